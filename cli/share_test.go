//go:build linux

package cli

import (
	"context"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tmaps/console/server/share"
	"github.com/tmaps/console/store"
)

// Issue 11, defect 9: a locked store says so once, not twice.
func TestLockedStoreSaysItOnce(t *testing.T) {
	e := newEnv(t)
	e.create("x")
	st := e.open()
	defer st.Close()
	r := e.run("keys", "list")
	if r.code != ExitError || strings.Count(r.stderr, "in use by another process") != 1 {
		t.Fatalf("locked store: %s", r)
	}
}

// Issue 11, defect 9: while a console holds the store file (and shares
// it), CLI commands work through it, audited under their OS user.
func TestCommandsGoThroughTheConsolesShare(t *testing.T) {
	e := newEnv(t)
	e.create("before")
	e.vars["XDG_RUNTIME_DIR"] = filepath.Join(t.TempDir(), "run")
	st := e.open() // the console's store
	defer st.Close()
	sh, err := share.Serve(st, st, e.db, share.Options{RuntimeDir: e.vars["XDG_RUNTIME_DIR"]})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	r := e.must("keys", "create", "--name", "made while the console runs")
	if !strings.HasPrefix(r.stdout, "ak_") {
		t.Fatalf("create: %s", r)
	}
	keys, err := st.Keys(context.Background())
	if err != nil || len(keys) != 2 {
		t.Fatalf("the console's store has %d keys (%v)", len(keys), err)
	}
	es, err := st.Audit(context.Background(), store.AuditQuery{Limit: 1})
	if err != nil || len(es) != 1 {
		t.Fatal(err)
	}
	want := "tester"
	if u, err := user.Current(); err == nil && u.Username != "" {
		want = u.Username
	}
	if es[0].Actor != want {
		t.Fatalf("audit actor %q, want the OS user %q", es[0].Actor, want)
	}
	if r := e.must("keys", "list"); !strings.Contains(r.stdout, "made while the console runs") {
		t.Fatalf("list through the share: %s", r)
	}
}
