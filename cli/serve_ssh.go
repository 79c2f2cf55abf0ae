package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/tmaps/console/server"
	"github.com/tmaps/console/server/sshd"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/ui"
)

// sshFlags are the SSH options of `tmaps serve`.
type sshFlags struct {
	listen      string
	authKeys    string
	hostKey     string
	maxSessions int
	idle        time.Duration
}

// addSSHFlags declares the SSH flags of serve on f.
func addSSHFlags(f *pflag.FlagSet, c *sshFlags) {
	f.StringVar(&c.listen, "ssh-listen", "", "also serve the console over SSH on this address, e.g. :2222 (needs --authorized-keys)")
	f.StringVar(&c.authKeys, "authorized-keys", "", "OpenSSH authorized_keys file of the public keys allowed to log in over SSH (re-read when it changes)")
	f.StringVar(&c.hostKey, "host-key", "", "SSH host key, generated on first start (default ssh_host_ed25519_key beside the store)")
	f.IntVar(&c.maxSessions, "ssh-max-sessions", sshd.DefaultMaxSessions, "most SSH sessions at once (0: no limit)")
	f.DurationVar(&c.idle, "ssh-idle-timeout", sshd.DefaultIdleTimeout, "end an SSH session after this long without input (0: never)")
}

// sshComponent checks the SSH flags and, when --ssh-listen is set, returns
// the daemon component that serves the console over SSH (nil without SSH).
// Flag mistakes are reported here, before the store is opened.
func (a *app) sshComponent(c sshFlags, dbPath, location string) (server.ComponentFunc, error) {
	if c.listen == "" {
		if c.authKeys != "" || c.hostKey != "" {
			return nil, usagef("--authorized-keys and --host-key configure SSH: add --ssh-listen ADDR (e.g. :2222)")
		}
		return nil, nil
	}
	if c.authKeys == "" {
		return nil, usagef("--ssh-listen needs --authorized-keys FILE: the public keys allowed to log in (e.g. a copy of ~/.ssh/id_ed25519.pub)")
	}
	if c.maxSessions < 0 {
		return nil, usagef("--ssh-max-sessions %d: use 0 (no limit) or more", c.maxSessions)
	}
	if c.idle < 0 {
		return nil, usagef("--ssh-idle-timeout %s: use 0 (never) or a positive duration such as 15m", c.idle)
	}
	hostKey := c.hostKey
	if hostKey == "" {
		hostKey = filepath.Join(filepath.Dir(dbPath), "ssh_host_ed25519_key")
	}
	return func(env server.Env) (server.Component, error) {
		st := env.Store
		log := env.Logger.With("component", "ssh")
		srv, err := sshd.New(sshd.Config{
			Addr:               c.listen,
			AuthorizedKeysFile: c.authKeys,
			HostKeyFile:        hostKey,
			MaxSessions:        c.maxSessions,
			IdleTimeout:        c.idle,
			Logger:             log,
			Console: func(s sshd.Session) tea.Model {
				// No native clipboard: the server's is not the operator's.
				// Copies go to the operator's terminal with OSC 52.
				return ui.New(ui.Config{Store: store.Guard(st, s.Role), Location: location, Now: a.now, Actor: s.Actor, Role: s.Role})
			},
			Command: func(ctx context.Context, s sshd.Session, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
				code := ExecuteWithStore(ctx, st, location, s.Actor, s.Role, args, stdin, stdout, stderr)
				// Read your writes, as over the API: the session ends once
				// this node's gate decides with what the command changed.
				sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				if err := env.Gate.Sync(sctx); err != nil {
					log.Error("an SSH command's change is saved but the gate has not applied it", "err", err)
				}
				return code
			},
		})
		if err != nil {
			return nil, err
		}
		if env.Metrics != nil {
			err := env.Metrics.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "tmaps_ssh_sessions",
				Help: "Open SSH sessions (consoles and commands).",
			}, func() float64 { return float64(srv.Sessions()) }))
			if err != nil {
				return nil, err
			}
		}
		return &sshService{srv: srv, log: log}, nil
	}, nil
}

// sshService is the SSH server as a daemon component.
type sshService struct {
	srv  *sshd.Server
	ln   net.Listener
	log  *slog.Logger
	done chan error
}

// Start listens (a busy port fails before "ready") and serves.
func (s *sshService) Start(context.Context) error {
	ln, err := s.srv.Listen()
	if err != nil {
		return err
	}
	s.ln = ln
	s.done = make(chan error, 1)
	go func() { s.done <- s.srv.Serve(ln) }()
	return nil
}

// Announce is the address and host key fingerprint line of stdout.
func (s *sshService) Announce() string {
	return fmt.Sprintf("ssh %s host key %s", s.ln.Addr(), s.srv.Fingerprint())
}

// Reload re-reads the authorized keys file.
func (s *sshService) Reload(context.Context) error {
	n, err := s.srv.ReloadKeys()
	if err == nil {
		s.log.Info("ssh authorized keys reloaded", "keys", n)
	}
	return err
}

// Stop ends the SSH sessions (each client is told) before the store
// closes, waiting until ctx ends for them.
func (s *sshService) Stop(ctx context.Context) error {
	if err := s.srv.Shutdown(ctx); err != nil {
		s.log.Warn("SSH sessions still open at the end of the shutdown timeout were cut", "err", err)
	}
	if err := <-s.done; err != nil && !errors.Is(err, sshd.ErrServerClosed) {
		return fmt.Errorf("ssh server: %w", err)
	}
	return nil
}
