//go:build linux

package share

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
)

var rt string // the tests' runtime directory

func openBolt(t *testing.T) (*bolt.Store, string) {
	t.Helper()
	rt = t.TempDir()
	path := filepath.Join(t.TempDir(), "console.db")
	st, err := bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, path
}

// A second process's changes go through the holder: audited under the
// caller's own user, and seen at once by the holder's watchers (its
// console).
func TestShareServesTheHoldersStore(t *testing.T) {
	st, path := openBolt(t)
	ctx := context.Background()
	events, err := st.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	sh, err := Serve(st, st, path, Options{RuntimeDir: rt})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	dir, sock, tok := Paths(path, rt)
	for p, want := range map[string]os.FileMode{dir: 0o700, sock: 0o600, tok: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}

	r, err := Open(path, rt)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	k, secret, err := r.CreateKey(store.WithActor(ctx, "alice"), "made over the share", model.Policy{})
	if err != nil || secret == "" {
		t.Fatalf("create over the share: %v", err)
	}
	if got, err := st.Key(ctx, k.ID); err != nil || got.Name != "made over the share" {
		t.Fatalf("the holder's store has %+v, %v", got, err)
	}
	es, err := st.Audit(ctx, store.AuditQuery{Object: "key:" + k.ID})
	if err != nil || len(es) == 0 || es[0].Actor != "alice" {
		t.Fatalf("audit %+v %v: want the caller's actor alice", es, err)
	}
	for ev := range events {
		if ev.Kind == store.EventKey && ev.ID == k.ID {
			break
		}
	}
	// tmaps tokens works over the share too: the store's own tokens.
	if _, _, err := r.CreateToken(store.WithActor(ctx, "alice"), "ci-bot", model.RoleOperator); err != nil {
		t.Fatalf("create a token over the share: %v", err)
	}
	if toks, err := st.Tokens(ctx); err != nil || len(toks) != 1 || toks[0].Name != "ci-bot" {
		t.Fatalf("tokens %+v %v", toks, err)
	}

	sh.Close()
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the socket outlives Close: %v", err)
	}
	if _, err := os.Stat(tok); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the token outlives Close: %v", err)
	}
	if _, err := Open(path, rt); !errors.Is(err, ErrNone) {
		t.Fatalf("Open after Close: %v, want ErrNone", err)
	}
}

// A process of another user gets nothing, not even an answer.
func TestShareRefusesOtherUsers(t *testing.T) {
	st, path := openBolt(t)
	sh, err := Serve(st, st, path, Options{RuntimeDir: rt, PeerUID: os.Getuid() + 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	r, err := Open(path, rt)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, _, err := r.CreateKey(store.WithActor(context.Background(), "mallory"), "intruder", model.Policy{}); err == nil {
		t.Fatal("a peer of another uid changed the store")
	}
	if keys, _ := st.Keys(context.Background()); len(keys) != 0 {
		t.Fatalf("keys %+v", keys)
	}
}

// A socket left by a holder that died, or a directory others may enter,
// is not used.
func TestShareStaleOrOpen(t *testing.T) {
	_, path := openBolt(t)
	dir, sock, tok := Paths(path, rt)
	if err := privateDir(dir); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // the socket file stays; no one listens
	if err := os.WriteFile(tok, []byte("tm_0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, rt); !errors.Is(err, ErrNone) {
		t.Fatalf("stale socket: %v, want ErrNone", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, rt); err == nil || errors.Is(err, ErrNone) {
		t.Fatalf("a directory others may enter: %v, want a refusal", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}
