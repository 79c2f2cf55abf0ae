// Package sshd serves the console over SSH for `tmaps serve`: operators log
// in with a public key listed in an authorized_keys file and get the TUI
// (sessions with a terminal) or run CLI commands (sessions without one,
// `ssh -p PORT host keys list --json`).
//
// The package knows neither the UI nor the CLI: the daemon wires them in
// with the Console and Command closures of Config, so each session builds
// its own console over the daemon's store.
package sshd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"
	"unicode"

	tea "charm.land/bubbletea/v2"
	"charm.land/wish/v2"
	"github.com/charmbracelet/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/tmaps/console/model"
)

// Defaults for the daemon's flags. Zero in Config means no limit.
const (
	DefaultMaxSessions = 16
	DefaultIdleTimeout = 15 * time.Minute
)

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown.
var ErrServerClosed = ssh.ErrServerClosed

// Config configures a Server.
type Config struct {
	// Addr is the TCP address ListenAndServe listens on, e.g. ":2222".
	Addr string
	// AuthorizedKeysFile lists the public keys allowed to log in, in
	// OpenSSH authorized_keys format. It is re-read when it changes: at
	// each login, and every 2 s to end the sessions of a removed key (or
	// of a key whose role changed). The only key option accepted is the
	// key's role, environment="TMAPS_ROLE=ROLE" (admin without it); lines
	// with other options (from=, command=, ...) are ignored with a warning.
	AuthorizedKeysFile string
	// HostKeyFile is the server's private host key; an ed25519 key is
	// generated there (mode 0600) on first start and reused after.
	HostKeyFile string
	// MaxSessions is the most sessions open at once; 0 means no limit.
	MaxSessions int
	// IdleTimeout ends a session after this long without input from the
	// client (keys, mouse, resizes; and output, for commands); 0 means never.
	IdleTimeout time.Duration
	// Logger receives connects, refusals and disconnects; nil discards.
	Logger *slog.Logger
	// Console builds the UI of one session with a terminal. The program
	// sends it a tea.WindowSizeMsg at start and on every resize. A model
	// with a Close() method is closed when the session ends.
	Console func(s Session) tea.Model
	// Command runs CLI args for a session without a terminal (or with one
	// and a command) and returns the exit status sent to the client.
	// ctx ends when the client goes away, idles out or the server stops.
	Command func(ctx context.Context, s Session, args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// Session describes one SSH session for Console and Command.
type Session struct {
	// Actor is the audit actor of changes made in this session:
	// "ssh:<user> <SHA256:fingerprint>".
	Actor string
	// User is the SSH user name the client gave, escaped for terminals.
	User string
	// Fingerprint is the SHA256 fingerprint of the client's public key.
	Fingerprint string
	// KeyComment is the comment of the key's line in authorized_keys.
	KeyComment string
	// Role is the role of the key's line in authorized_keys.
	Role model.Role
	// RemoteAddr is the client's address.
	RemoteAddr string
	// PTY says whether the client asked for a terminal; Term, Width and
	// Height describe it.
	PTY           bool
	Term          string
	Width, Height int
	// Environ holds the variables the client sent (ssh SendEnv / SetEnv).
	Environ []string
}

// Server is an SSH server for the console.
type Server struct {
	cfg    Config
	log    *slog.Logger
	srv    *ssh.Server
	signer gossh.Signer
	keys   *authorizedKeys

	// keyCheck is the period of the authorized keys re-read that ends
	// the sessions of removed keys.
	keyCheck time.Duration
	quit     chan struct{} // closed by Shutdown and Close
	quitOnce sync.Once
	watching sync.Once

	mu       sync.Mutex
	ln       net.Listener
	closing  bool
	sessions map[*run]struct{}
}

// New checks cfg, loads or generates the host key and reads the authorized
// keys file (which must exist, even empty).
func New(cfg Config) (*Server, error) {
	if cfg.AuthorizedKeysFile == "" {
		return nil, errors.New("ssh: an authorized keys file is required (--authorized-keys FILE)")
	}
	if cfg.HostKeyFile == "" {
		return nil, errors.New("ssh: a host key file is required (--host-key FILE)")
	}
	if cfg.MaxSessions < 0 {
		return nil, fmt.Errorf("ssh: max sessions must be 0 (no limit) or more, not %d", cfg.MaxSessions)
	}
	if cfg.IdleTimeout < 0 {
		return nil, fmt.Errorf("ssh: idle timeout must be 0 (none) or more, not %s", cfg.IdleTimeout)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:      cfg,
		log:      log,
		keys:     &authorizedKeys{path: cfg.AuthorizedKeysFile, log: log},
		sessions: map[*run]struct{}{},
		keyCheck: 2 * time.Second,
		quit:     make(chan struct{}),
	}
	if _, err := s.keys.load(); err != nil {
		return nil, fmt.Errorf("ssh: %w", err)
	}
	signer, created, err := loadHostKey(cfg.HostKeyFile)
	if err != nil {
		return nil, fmt.Errorf("ssh: %w", err)
	}
	if created {
		log.Info("ssh host key generated", "file", cfg.HostKeyFile, "fingerprint", gossh.FingerprintSHA256(signer.PublicKey()))
	}
	s.signer = signer
	srv, err := wish.NewServer(
		wish.WithAddress(cfg.Addr),
		wish.WithVersion("tmaps"),
		func(srv *ssh.Server) error { srv.AddHostKey(signer); return nil },
		// Public keys only: with no password or keyboard-interactive
		// handler the server offers neither method.
		wish.WithPublicKeyAuth(s.authorize),
		wish.WithMiddleware(func(ssh.Handler) ssh.Handler { return s.handle }),
	)
	if err != nil {
		return nil, fmt.Errorf("ssh: %w", err)
	}
	if cfg.IdleTimeout > 0 {
		// A backstop for connections that never open a session (or never
		// finish authenticating): sessions end on their own idle timer first.
		srv.IdleTimeout = cfg.IdleTimeout + time.Minute
	}
	srv.ConnCallback = s.connected
	srv.ConnectionFailedCallback = func(conn net.Conn, err error) {
		s.log.Info("ssh connection refused", "remote", conn.RemoteAddr().String(), "reason", model.Escape(err.Error()))
	}
	s.srv = srv
	return s, nil
}

// Fingerprint is the SHA256 fingerprint of the host key, as `ssh` shows it.
func (s *Server) Fingerprint() string { return gossh.FingerprintSHA256(s.signer.PublicKey()) }

// HostPublicKey is the host key in authorized_keys (and known_hosts) format.
func (s *Server) HostPublicKey() string {
	return string(gossh.MarshalAuthorizedKey(s.signer.PublicKey()))
}

// Addr is the address the server listens on, nil before it listens.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Listen opens the listener on Config.Addr without serving yet, so the
// caller knows the address (and a port in use is reported) before Serve.
func (s *Server) Listen() (net.Listener, error) {
	addr := s.cfg.Addr
	if addr == "" {
		addr = ":2222"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ssh: listen on %s: %w (choose another --ssh-listen address)", addr, err)
	}
	return l, nil
}

// ListenAndServe listens on Config.Addr (":2222" when empty) and serves.
func (s *Server) ListenAndServe() error {
	l, err := s.Listen()
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// Serve serves SSH connections on l until Shutdown; it then returns
// ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.ln = l
	s.mu.Unlock()
	s.watching.Do(func() { go s.watchKeys() })
	s.log.Info("ssh listening", "addr", l.Addr().String(), "host_key", s.Fingerprint())
	return s.srv.Serve(l)
}

// Shutdown stops accepting connections, ends every session with a message
// to its client, and waits for them to finish until ctx ends; then it
// closes the remaining connections and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.quitOnce.Do(func() { close(s.quit) })
	s.mu.Lock()
	s.closing = true
	active := make([]*run, 0, len(s.sessions))
	for r := range s.sessions {
		active = append(active, r)
	}
	s.mu.Unlock()
	for _, r := range active {
		r.stop("tmaps: the server is shutting down")
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// ReloadKeys re-reads the authorized keys file now, even when its size
// and modification time look unchanged (SIGHUP), and returns how many keys
// it accepts. An unusable file refuses every login until it is fixed.
func (s *Server) ReloadKeys() (int, error) {
	n, err := s.keys.read(true)
	if err != nil {
		return 0, fmt.Errorf("ssh: %w", err)
	}
	return n, nil
}

// Sessions is the number of sessions open now.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Close closes the listener and every connection at once.
func (s *Server) Close() error {
	s.quitOnce.Do(func() { close(s.quit) })
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	return s.srv.Close()
}

// ctxKeyLine holds the authorized_keys lines of the keys that
// authenticated, keyed by each key's wire form.
type ctxKeyLine struct{}

// authorize is the public key handler: the key must be in the
// authorized_keys file as it is now.
func (s *Server) authorize(ctx ssh.Context, key ssh.PublicKey) bool {
	line, ok := s.keys.lookup(key)
	fp := gossh.FingerprintSHA256(key)
	if !ok {
		s.log.Warn("ssh key refused", "user", safeUser(ctx.User()), "fingerprint", fp, "remote", addrString(ctx.RemoteAddr()))
		return false
	}
	lines, _ := ctx.Value(ctxKeyLine{}).(map[string]authorizedKey)
	if lines == nil {
		lines = map[string]authorizedKey{}
		ctx.SetValue(ctxKeyLine{}, lines)
	}
	lines[string(key.Marshal())] = line
	return true
}

// connected logs a new connection and, when it ends, its disconnect.
func (s *Server) connected(ctx ssh.Context, conn net.Conn) net.Conn {
	remote := addrString(conn.RemoteAddr())
	start := time.Now()
	s.log.Info("ssh connect", "remote", remote)
	go func() {
		<-ctx.Done()
		attrs := []any{"remote", remote, "duration", time.Since(start).Round(time.Millisecond).String()}
		if key, ok := ctx.Value(ssh.ContextKeyPublicKey).(ssh.PublicKey); ok && key != nil {
			attrs = append(attrs, "user", safeUser(ctx.User()), "fingerprint", gossh.FingerprintSHA256(key))
		}
		s.log.Info("ssh disconnect", attrs...)
	}()
	return conn
}

// sessionInfo describes sess for Console and Command.
func sessionInfo(sess ssh.Session) Session {
	info := Session{
		User:       safeUser(sess.User()),
		RemoteAddr: addrString(sess.RemoteAddr()),
		Environ:    sess.Environ(),
	}
	if key := sess.PublicKey(); key != nil {
		info.Fingerprint = gossh.FingerprintSHA256(key)
		lines, _ := sess.Context().Value(ctxKeyLine{}).(map[string]authorizedKey)
		line := lines[string(key.Marshal())]
		info.KeyComment, info.Role = line.comment, line.role
	}
	info.Actor = "ssh:" + info.User + " " + info.Fingerprint
	if pty, _, ok := sess.Pty(); ok {
		info.PTY = true
		info.Term = pty.Term
		info.Width, info.Height = pty.Window.Width, pty.Window.Height
	}
	return info
}

// safeUser is the client's user name made safe for terminals and logs,
// at most 64 characters, without spaces (so "ssh:USER FINGERPRINT" always
// has the real fingerprint after the only space).
func safeUser(u string) string {
	u = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return '_'
		}
		return r
	}, model.Escape(u))
	if r := []rune(u); len(r) > 64 {
		u = string(r[:63]) + "…"
	}
	if u == "" {
		u = "-"
	}
	return u
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
