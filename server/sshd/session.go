package sshd

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/ssh"
)

// run is one session being served.
type run struct {
	sess ssh.Session
	info Session
	key  []byte // the client's public key, SSH wire form

	// absent counts the consecutive key checks that did not find key in
	// the authorized keys file (used by watchKeys only).
	absent int

	last atomic.Int64 // unix nanoseconds of the last activity

	stopOnce sync.Once
	stopped  chan struct{} // closed by stop
	reason   string        // the message for the client, set before stopped closes

	endOnce sync.Once
}

// touch records activity from the client.
func (r *run) touch() { r.last.Store(time.Now().UnixNano()) }

// stop asks the session to end with msg for the client.
func (r *run) stop(msg string) {
	r.stopOnce.Do(func() {
		r.reason = msg
		close(r.stopped)
	})
}

// stopReason is the message stop was called with, "" if it was not.
func (r *run) stopReason() string {
	select {
	case <-r.stopped:
		return r.reason
	default:
		return ""
	}
}

// end sends msg (if any) to the client's stderr and the exit status, once.
func (r *run) end(code int, msg string) {
	r.endOnce.Do(func() {
		if msg != "" {
			fmt.Fprintf(r.sess.Stderr(), "\r\n%s\r\n", msg)
		}
		_ = r.sess.Exit(code)
	})
}

// watchIdle stops the session after timeout without activity.
func (r *run) watchIdle(timeout time.Duration, done <-chan struct{}) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-r.stopped:
			return
		case <-t.C:
			left := time.Until(time.Unix(0, r.last.Load()).Add(timeout))
			if left <= 0 {
				r.stop(fmt.Sprintf("tmaps: idle for %s, disconnecting", timeout))
				return
			}
			t.Reset(left)
		}
	}
}

// activityReader counts reads as activity.
type activityReader struct {
	r   io.Reader
	run *run
}

func (a activityReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.run.touch()
	}
	return n, err
}

// activityWriter counts writes as activity.
type activityWriter struct {
	w   io.Writer
	run *run
}

func (a activityWriter) Write(p []byte) (int, error) {
	a.run.touch()
	return a.w.Write(p)
}

// handle serves one session: it enforces the session limit, then runs the
// console or a command.
func (s *Server) handle(sess ssh.Session) {
	r := &run{sess: sess, info: sessionInfo(sess), stopped: make(chan struct{})}
	if key := sess.PublicKey(); key != nil {
		r.key = key.Marshal()
	}
	r.touch()
	log := s.log.With("user", r.info.User, "fingerprint", r.info.Fingerprint, "remote", r.info.RemoteAddr)

	s.mu.Lock()
	switch {
	case s.closing:
		s.mu.Unlock()
		log.Info("ssh session refused: shutting down")
		r.end(1, "tmaps: the server is shutting down; try again later")
		return
	case s.cfg.MaxSessions > 0 && len(s.sessions) >= s.cfg.MaxSessions:
		s.mu.Unlock()
		log.Warn("ssh session refused: too many sessions", "max", s.cfg.MaxSessions)
		r.end(1, fmt.Sprintf("tmaps: too many sessions (max %d); try again later", s.cfg.MaxSessions))
		return
	}
	s.sessions[r] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sessions, r)
		s.mu.Unlock()
	}()

	args := sess.Command()
	kind := "console"
	if len(args) > 0 || !r.info.PTY {
		kind = "command"
	}
	log.Info("ssh session start", "kind", kind, "pty", r.info.PTY, "term", r.info.Term, "command", commandName(args))
	start := time.Now()

	done := make(chan struct{})
	defer close(done)
	if s.cfg.IdleTimeout > 0 {
		go r.watchIdle(s.cfg.IdleTimeout, done)
	}

	var code int
	func() {
		defer func() {
			if p := recover(); p != nil {
				log.Error("ssh session crashed", "panic", fmt.Sprint(p))
				code = 1
				r.end(1, "tmaps: internal error; the session was closed")
			}
		}()
		if kind == "console" {
			code = s.runConsole(r)
		} else {
			code = s.runCommand(r, args)
		}
	}()
	reason := r.stopReason()
	r.end(code, reason)
	log.Info("ssh session end", "kind", kind, "exit", code, "duration", time.Since(start).Round(time.Millisecond).String(), "reason", reasonName(reason))
}

// runConsole runs the console of a session with a terminal until the
// operator quits, the client leaves, or the session is stopped.
func (s *Server) runConsole(r *run) int {
	sess := r.sess
	pty, winch, _ := sess.Pty()
	var m tea.Model
	if s.cfg.Console != nil {
		m = s.cfg.Console(r.info)
	}
	if m == nil {
		go drainResizes(winch, r)
		fmt.Fprint(sess.Stderr(), "tmaps: the console is not available on this server; run a command instead, e.g. `ssh -p PORT HOST keys list`\n")
		return 1
	}
	env := append(sess.Environ(), "TERM="+pty.Term)
	p := tea.NewProgram(m,
		tea.WithInput(activityReader{sess, r}),
		tea.WithOutput(sess),
		tea.WithEnvironment(env),
		// No local terminal to query: the profile comes from the
		// client's TERM and the variables it sent (NO_COLOR, COLORTERM).
		tea.WithColorProfile(colorprofile.Env(env)),
		tea.WithWindowSize(pty.Window.Width, pty.Window.Height),
		// Signals belong to the daemon, not to one session.
		tea.WithoutSignalHandler(),
		// There is no shell to suspend to.
		tea.WithFilter(func(_ tea.Model, msg tea.Msg) tea.Msg {
			if _, ok := msg.(tea.SuspendMsg); ok {
				return tea.ResumeMsg{}
			}
			return msg
		}),
	)
	// Resizes reach the model as tea.WindowSizeMsg and count as activity.
	// The first value on winch is the initial size; sending it again is
	// harmless.
	go func() {
		for w := range winch {
			r.touch()
			p.Send(tea.WindowSizeMsg{Width: w.Width, Height: w.Height})
		}
	}()
	finished := make(chan struct{})
	go func() {
		select {
		case <-finished:
			return
		case <-sess.Context().Done():
			p.Kill()
			return
		case <-r.stopped:
			p.Quit()
		}
		// A program that does not quit promptly is killed.
		select {
		case <-finished:
		case <-time.After(2 * time.Second):
			p.Kill()
		}
	}()
	final, err := p.Run()
	close(finished)
	closeModel(m, final)
	switch {
	case r.stopReason() != "":
		return 1
	case err != nil && sess.Context().Err() == nil:
		s.log.Error("ssh console ended with an error", "user", r.info.User, "fingerprint", r.info.Fingerprint, "error", err.Error())
		return 1
	}
	return 0
}

// closeModel calls Close on the console's final model, or else on its
// initial one, when it has that method: its background work (a store
// subscription) ends with the session.
func closeModel(initial, final tea.Model) {
	for _, m := range []tea.Model{final, initial} {
		if c, ok := m.(interface{ Close() }); ok {
			c.Close()
			return
		}
	}
}

// drainResizes reads window changes as activity: the session's request
// loop blocks unless someone reads them.
func drainResizes(winch <-chan ssh.Window, r *run) {
	for range winch {
		r.touch()
	}
}

// runCommand runs CLI args for the session and returns their exit status.
func (s *Server) runCommand(r *run, args []string) int {
	sess := r.sess
	if _, winch, ok := sess.Pty(); ok {
		go drainResizes(winch, r)
	}
	if len(args) == 0 {
		fmt.Fprint(sess.Stderr(), "tmaps: no terminal for the console: log in with `ssh -t`, or give a command, e.g. `ssh -p PORT HOST keys list`\n")
		return 2
	}
	if s.cfg.Command == nil {
		fmt.Fprint(sess.Stderr(), "tmaps: commands are not available on this server\n")
		return 1
	}
	ctx, cancel := context.WithCancel(sess.Context())
	defer cancel()
	go func() {
		select {
		case <-ctx.Done():
		case <-r.stopped:
			// The command may be blocked reading stdin: tell the client
			// and close the session, which ends the read.
			cancel()
			r.end(1, r.stopReason())
		}
	}()
	code := s.cfg.Command(ctx, r.info, args,
		activityReader{sess, r},
		activityWriter{sess, r},
		activityWriter{sess.Stderr(), r})
	if r.stopReason() != "" {
		// Stopped (key removed, idle, shutdown): the command ended because
		// it was cancelled, whatever it returned.
		return 1
	}
	return code
}

// commandName is the leading command words of args (e.g. "keys list") for
// logs: never flags or values, which could hold secrets.
func commandName(args []string) string {
	var words []string
	for _, a := range args {
		if len(words) == 2 || !commandWord.MatchString(a) {
			break
		}
		words = append(words, a)
	}
	return strings.Join(words, " ")
}

var commandWord = regexp.MustCompile(`^[a-z][a-z-]{0,30}$`)

// reasonName names why a session ended, for logs.
func reasonName(msg string) string {
	switch {
	case msg == "":
		return "closed"
	case strings.Contains(msg, "idle"):
		return "idle"
	case strings.Contains(msg, "shutting down"):
		return "shutdown"
	case strings.Contains(msg, "no longer authorized"):
		return "key removed"
	}
	return "stopped"
}

// watchKeys re-reads the authorized keys file every s.keyCheck and ends
// the sessions whose key was removed from it or whose role changed (the
// operator logs in again with the new role). A key must be missing (or
// changed) in two reads in a row, so an editor saving the file in two
// steps does not cut anyone.
func (s *Server) watchKeys() {
	t := time.NewTicker(s.keyCheck)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
		}
		s.keys.load()
		s.mu.Lock()
		var gone []*run
		for r := range s.sessions {
			if line, ok := s.keys.find(r.key); r.key == nil || (ok && line.role == r.info.Role) {
				r.absent = 0
				continue
			}
			r.absent++
			if r.absent >= 2 {
				gone = append(gone, r)
			}
		}
		s.mu.Unlock()
		for _, r := range gone {
			s.log.Warn("ssh session ended: key removed from the authorized keys", "user", r.info.User, "fingerprint", r.info.Fingerprint, "remote", r.info.RemoteAddr)
			r.stop("tmaps: your key is no longer authorized; disconnecting")
		}
	}
}
