package cli

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/tmaps/console/demo"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/server/share"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
	"github.com/tmaps/console/store/remote"
)

// openStore opens the store a command works on: the etcd cluster of --etcd,
// the management API with --api, a throw-away demo store with --demo, else
// the bolt file of --db.
// location says where the data lives (for the console's header); done
// closes the store and removes what --demo created.
func (a *app) openStore() (st store.Store, location string, done func(), err error) {
	st, location, done, err = a.openBackend()
	if err == nil && a.readOnly {
		st = store.Guard(st, model.RoleAuditor)
	}
	return st, location, done, err
}

// openBackend opens the store of openStore, without --read-only.
func (a *app) openBackend() (st store.Store, location string, done func(), err error) {
	if a.fixed != nil {
		return a.fixed.open(a)
	}
	flags := a.root.PersistentFlags()
	api := a.setting(flags.Changed("api"), a.api, "TMAPS_API", "")
	if a.demo && (flags.Changed("api") || flags.Changed("db")) {
		return nil, "", nil, usagef("--demo uses a throw-away store: drop --db and --api")
	}
	eopt, useEtcd, err := a.etcdOptions()
	if err != nil {
		return nil, "", nil, err
	}
	if useEtcd && (a.demo || api != "" || flags.Changed("db")) {
		return nil, "", nil, usagef("--etcd keeps the store in an etcd cluster: drop --db, --api and --demo")
	}
	switch {
	case useEtcd:
		return a.openEtcd(eopt)
	case a.demo:
		return a.openDemo()
	case api == "" && flags.Changed("ca-cert"):
		return nil, "", nil, usagef("--ca-cert is for --api: add --api URL, or drop --ca-cert")
	case api != "":
		if err := a.oneStore(); err != nil {
			return nil, "", nil, err
		}
		token := a.setting(flags.Changed("token"), a.token, "TMAPS_TOKEN", "")
		return a.openRemote(api, token)
	}
	path := a.setting(flags.Changed("db"), a.db, "TMAPS_DB", a.defaultDB())
	if path == "" {
		return nil, "", nil, usagef("--db needs a file path (or unset it to use %s)", a.defaultDB())
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	// A console has the file open: go through it (its share).
	if r, err := share.Open(path, a.getenv("XDG_RUNTIME_DIR")); err == nil {
		return r, path + " (through the console that has it open)", func() { r.Close() }, nil
	} else if !errors.Is(err, share.ErrNone) {
		fmt.Fprintf(a.stderr, "tmaps: %v\n", err)
	}
	b, err := bolt.Open(path, bolt.Options{Timeout: a.lockTimeout, Now: a.now})
	if err != nil {
		if errors.Is(err, store.ErrInUse) {
			// Held, and shared with no one of ours: `tmaps serve`, or
			// another user's console.
			return nil, "", nil, err
		}
		return nil, "", nil, fmt.Errorf("%w (check the path, or pass another one with --db or TMAPS_DB)", err)
	}
	a.local, a.localPath = b, path
	return b, path, func() { b.Close() }, nil
}

// oneStore refuses a command line that names a local store and the API
// (flags or environment): which one was meant cannot be guessed.
func (a *app) oneStore() error {
	flags := a.root.PersistentFlags()
	db := ""
	switch {
	case flags.Changed("db"):
		db = "--db"
	case a.getenv("TMAPS_DB") != "":
		db = "TMAPS_DB"
	default:
		return nil
	}
	api := "TMAPS_API"
	if flags.Changed("api") {
		api = "--api"
	}
	return usagef("%s and %s both name a store; give only one store: drop %s (or unset it) to use the API, or %s to use the local file", db, api, db, api)
}

// openRemote opens the management API of a running `tmaps serve`.
func (a *app) openRemote(url, token string) (store.Store, string, func(), error) {
	var opt remote.Options
	flags := a.root.PersistentFlags()
	if file := a.setting(flags.Changed("ca-cert"), a.caCert, "TMAPS_CA_CERT", ""); file != "" {
		pem, err := os.ReadFile(file)
		if err != nil {
			return nil, "", nil, usagef("--ca-cert: %v", err)
		}
		opt.RootCAs = x509.NewCertPool()
		if !opt.RootCAs.AppendCertsFromPEM(pem) {
			return nil, "", nil, usagef("--ca-cert %s: no PEM certificate in it (want the CA's certificate, -----BEGIN CERTIFICATE-----)", file)
		}
	}
	r, err := remote.New(url, token, opt)
	if err != nil {
		return nil, "", nil, usagef("%v", err)
	}
	return r, r.URL(), func() { r.Close() }, nil
}

// openDemo creates a store in a fresh temporary directory, fills it with
// demo data whose history spans the last 30 days, and removes it on done.
// With TMAPS_DEMO_NOW (an RFC 3339 time) the demo is reproducible: the
// clock of the store and of the console stands still at that time, and the
// secrets and key ids come from a generator seeded with it.
func (a *app) openDemo() (store.Store, string, func(), error) {
	var src io.Reader
	if v := a.getenv("TMAPS_DEMO_NOW"); v != "" {
		at, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return nil, "", nil, usagef("TMAPS_DEMO_NOW=%s is not a time: write it in RFC 3339, e.g. 2026-06-15T10:30:00Z (or unset it)", model.Escape(v))
		}
		a.now = func() time.Time { return at }
		seed := sha256.Sum256([]byte("tmaps demo " + at.UTC().Format(time.RFC3339Nano)))
		src = rand.NewChaCha8(seed)
	}
	dir, err := os.MkdirTemp("", "tmaps-demo-")
	if err != nil {
		return nil, "", nil, fmt.Errorf("--demo: create a temporary directory: %w", err)
	}
	clock := demo.NewClock(a.now)
	b, err := bolt.Open(filepath.Join(dir, "demo.db"), bolt.Options{Timeout: a.lockTimeout, Now: clock.Now, Rand: src})
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", nil, fmt.Errorf("--demo: %w", err)
	}
	done := func() {
		b.Close()
		os.RemoveAll(dir)
	}
	if err := demo.FillTimed(a.ctx, b, a.now(), clock); err != nil {
		done()
		return nil, "", nil, fmt.Errorf("--demo: fill the demo store: %w", err)
	}
	return b, "demo (throw-away store, changes are lost on exit)", done, nil
}

// actor is the audit actor of local changes: the OS user name.
func (a *app) actor() string {
	if a.fixed != nil {
		return a.fixed.actor
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := a.getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}

// withStore opens the store, runs fn with a context carrying the actor, and
// closes the store.
func (a *app) withStore(fn func(ctx context.Context, st store.Store) error) error {
	st, _, done, err := a.openStore()
	if err != nil {
		return err
	}
	defer done()
	return fn(store.WithActor(a.ctx, a.actor()), st)
}

// fmtTime formats a time for a table (local, minutes) or for text meant for
// scripts (RFC 3339, UTC). The zero time is "never" or "".
func (a *app) fmtTime(t time.Time) string {
	if t.IsZero() {
		if a.outTTY {
			return "never"
		}
		return ""
	}
	if a.outTTY {
		return t.Local().Format("2006-01-02 15:04")
	}
	return t.UTC().Format(time.RFC3339)
}
