package bolt_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
	"github.com/tmaps/console/store/storetest"
)

func openTemp(t *testing.T) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "data", "console.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
	storetest.RunDaemon(t, func(t *testing.T) storetest.DaemonBackend { return openTemp(t) })
}

func ctx() context.Context { return store.WithActor(context.Background(), "test") }

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "console.db")
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Path() != path {
		t.Fatalf("Path() = %q, want %q", s.Path(), path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Fatalf("file mode %o, want 600", m)
	}
	for _, d := range []string{dir, filepath.Dir(dir)} {
		di, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if m := di.Mode().Perm(); m != 0o700 {
			t.Fatalf("directory %s mode %o, want 700", d, m)
		}
	}
}

func TestLockTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "console.db")
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = bolt.Open(path, bolt.Options{Timeout: 50 * time.Millisecond})
	if !errors.Is(err, store.ErrInUse) {
		t.Fatalf("second Open: %v, want ErrInUse", err)
	}
	for _, want := range []string{"the store at " + path + " is in use by another process", "tmaps serve", "--api"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q should contain %q", err, want)
		}
	}
	// Once the first is closed, the file opens again.
	s.Close()
	s2, err := bolt.Open(path, bolt.Options{Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s2.Close()
}

func TestOpenErrors(t *testing.T) {
	if _, err := bolt.Open("", bolt.Options{}); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
	// A file that is not a bbolt database is refused, not overwritten.
	path := filepath.Join(t.TempDir(), "notes.txt")
	content := bytes.Repeat([]byte("not a database\n"), 1000)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := bolt.Open(path, bolt.Options{}); err == nil {
		s.Close()
		t.Fatal("Open on a text file succeeded")
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, content) {
		t.Fatal("Open changed a file that is not a store")
	}
}

// TestSecretsNeverStored scans the raw file for every secret created, in
// plain and hex form (and without its ak_/tm_ prefix).
func TestSecretsNeverStored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "console.db")
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var secrets []string
	for i := range 20 {
		k, secret, err := s.CreateKey(ctx(), "key", model.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, secret)
		if i%4 == 0 {
			_, sec2, err := s.RotateKey(ctx(), k.ID, 0)
			if err != nil {
				t.Fatal(err)
			}
			secrets = append(secrets, sec2)
		}
	}
	tok, tsecret, err := s.CreateToken(ctx(), "ci", model.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, tsecret)
	if !strings.HasPrefix(tsecret, "tm_") || len(tsecret) != 35 || tok.Prefix != tsecret[:11] {
		t.Fatalf("token secret %q prefix %q", tsecret, tok.Prefix)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, sec := range secrets {
		body := sec[3:]
		for _, needle := range []string{sec, body, hex.EncodeToString([]byte(sec)), hex.EncodeToString([]byte(body))} {
			if bytes.Contains(raw, []byte(needle)) {
				t.Fatalf("the store file contains secret %s (as %q)", sec[:11], needle[:8])
			}
		}
		// The raw 16 bytes behind the hex are not there either.
		if b, err := hex.DecodeString(body); err == nil && bytes.Contains(raw, b) {
			t.Fatalf("the store file contains the bytes of secret %s", sec[:11])
		}
		// But the digest is, so that the gate can find the key.
		d := model.DigestOf(sec)
		if !bytes.Contains(raw, d[:]) {
			t.Fatalf("the digest of %s is not in the file", sec[:11])
		}
	}
}

func TestReopenPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "console.db")
	clock := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	s, err := bolt.Open(path, bolt.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	k, secret, err := s.CreateKey(ctx(), "persist", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if !k.Created.Equal(clock) {
		t.Fatalf("created %v, want the injected clock %v", k.Created, clock)
	}
	if _, err := s.AddDomain(ctx(), "mysite.tn"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LinkKey(ctx(), k.ID, "mysite.tn"); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(time.Hour)
	if _, err := s.DisableKey(ctx(), k.ID); err != nil {
		t.Fatal(err)
	}
	hour := clock.Truncate(time.Hour)
	err = s.RecordUsage(ctx(), []store.UsageDelta{{KeyID: k.ID, Hour: hour, Allowed: 2, Forbidden: 1,
		RefusedHosts: map[string]uint64{"evil.com": 1}, LastUsed: clock, LastHost: "mysite.tn"}})
	if err != nil {
		t.Fatal(err)
	}
	tok, tsec, err := s.CreateToken(ctx(), "ops", model.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	wantKey, _ := s.Key(ctx(), k.ID)
	wantAudit, _ := s.Audit(ctx(), store.AuditQuery{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = bolt.Open(path, bolt.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.KeyByDigest(ctx(), model.DigestOf(secret))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != k.ID || got.Status != model.Disabled || !got.StatusChanged.Equal(clock) || !got.LastUsed.Equal(clock) ||
		len(got.Domains) != 1 || got.Domains[0] != "mysite.tn" || got.Digest != wantKey.Digest || got.Name != "persist" {
		t.Fatalf("after reopen: %+v, want %+v", got, wantKey)
	}
	if h, err := s.LastHost(ctx(), k.ID); err != nil || h != "mysite.tn" {
		t.Fatalf("LastHost = %q, %v", h, err)
	}
	if _, err := s.LastHost(ctx(), "k000000000000"); !errors.Is(err, store.ErrKeyNotFound) {
		t.Fatalf("LastHost(unknown) = %v", err)
	}
	audit, _ := s.Audit(ctx(), store.AuditQuery{})
	if len(audit) != len(wantAudit) || audit[0].Seq != wantAudit[0].Seq {
		t.Fatalf("audit after reopen: %d entries, want %d", len(audit), len(wantAudit))
	}
	u, _ := s.Usage(ctx(), store.UsageQuery{KeyID: k.ID, Since: hour, Until: hour.Add(time.Hour)})
	if len(u) != 1 || u[0].Allowed != 2 || u[0].Forbidden != 1 {
		t.Fatalf("usage after reopen: %+v", u)
	}
	tk, err := s.TokenByDigest(ctx(), model.DigestOf(tsec))
	if err != nil || tk.Name != "ops" || tk.Prefix != tok.Prefix {
		t.Fatalf("token after reopen: %+v, %v", tk, err)
	}
	// New writes continue the sequences.
	k2, _, err := s.CreateKey(ctx(), "after", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := s.Keys(ctx())
	if len(keys) != 2 || keys[0].ID != k.ID || keys[1].ID != k2.ID {
		t.Fatalf("keys after reopen: %+v", keys)
	}
	audit2, _ := s.Audit(ctx(), store.AuditQuery{Limit: 1})
	if audit2[0].Seq <= audit[0].Seq {
		t.Fatal("audit sequence restarted after reopen")
	}
}

func TestTokens(t *testing.T) {
	s := openTemp(t)
	c := store.WithActor(context.Background(), "root")
	tok, secret, err := s.CreateToken(c, "  ci  ", model.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Name != "ci" || !strings.HasPrefix(secret, "tm_") || len(secret) != 35 || tok.Prefix != secret[:11] {
		t.Fatalf("token %+v secret %q", tok, secret)
	}
	for _, c := range secret[3:] {
		if !strings.ContainsRune("0123456789abcdef", c) {
			t.Fatalf("secret %q is not lowercase hex", secret)
		}
	}
	if tok.Digest != model.DigestOf(secret) {
		t.Fatal("token digest is not the SHA-256 of its secret")
	}
	if _, _, err := s.CreateToken(c, "ci", model.RoleAdmin); !errors.Is(err, store.ErrTokenExists) {
		t.Fatalf("duplicate token: %v", err)
	}
	for _, bad := range []string{"", "  ", "a\x1bb"} {
		if _, _, err := s.CreateToken(c, bad, model.RoleAdmin); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("CreateToken(%q): %v", bad, err)
		}
	}
	if _, _, err := s.CreateToken(c, "backup", model.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	toks, err := s.Tokens(c)
	if err != nil || len(toks) != 2 || toks[0].Name != "backup" || toks[1].Name != "ci" {
		t.Fatalf("Tokens = %+v, %v", toks, err)
	}
	got, err := s.TokenByDigest(c, model.DigestOf(secret))
	if err != nil || got.Name != "ci" || !got.Created.Equal(tok.Created) {
		t.Fatalf("TokenByDigest = %+v, %v", got, err)
	}
	if _, err := s.TokenByDigest(c, model.DigestOf("tm_00000000000000000000000000000000")); !errors.Is(err, store.ErrTokenNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
	if err := s.RevokeToken(c, "ci"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenByDigest(c, model.DigestOf(secret)); !errors.Is(err, store.ErrTokenNotFound) {
		t.Fatalf("revoked token still found: %v", err)
	}
	if err := s.RevokeToken(c, "ci"); !errors.Is(err, store.ErrTokenNotFound) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoking twice: %v", err)
	}
	es, _ := s.Audit(c, store.AuditQuery{Object: "token:ci"})
	if len(es) != 2 || es[0].Action != model.AuditRevoke || es[1].Action != model.AuditCreate || es[0].Actor != "root" {
		t.Fatalf("token audit = %+v", es)
	}
	for _, e := range es {
		if strings.Contains(e.Before+e.After, secret[3:]) {
			t.Fatal("token audit entry contains the secret")
		}
	}
	// Recreating a revoked token's name is allowed and gives a new secret.
	_, secret2, err := s.CreateToken(c, "ci", model.RoleAdmin)
	if err != nil || secret2 == secret {
		t.Fatalf("recreate: %v", err)
	}
}

func TestRefusedHostLimits(t *testing.T) {
	s := openTemp(t)
	k, _, _ := s.CreateKey(ctx(), "k", model.Policy{})
	long := strings.Repeat("a", 5000) + ".tn"
	hour := time.Now().UTC().Truncate(time.Hour)
	for _, d := range []store.UsageDelta{
		{KeyID: k.ID, Hour: hour, Forbidden: 1, RefusedHosts: map[string]uint64{long: 1}},
		{KeyID: k.ID, Hour: hour, Forbidden: 1, LastUsed: time.Now(), LastHost: long},
		{KeyID: "bad\x00id", Hour: hour, Allowed: 1},
	} {
		if err := s.RecordUsage(ctx(), []store.UsageDelta{d}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("RecordUsage(%.80v): %v, want ErrInvalid", d, err)
		}
	}
	if hs, _ := s.RefusedHosts(ctx(), k.ID); len(hs) != 0 {
		t.Fatalf("refused hosts: %d", len(hs))
	}
	if h, _ := s.LastHost(ctx(), k.ID); h != "" {
		t.Fatalf("last host %q", h)
	}
}

func TestCanceledContext(t *testing.T) {
	s := openTemp(t)
	c, cancel := context.WithCancel(ctx())
	cancel()
	if _, _, err := s.CreateKey(c, "x", model.Policy{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("CreateKey with a canceled context: %v", err)
	}
	if keys, _ := s.Keys(ctx()); len(keys) != 0 {
		t.Fatal("a canceled CreateKey created a key")
	}
}

func TestErrorsEscapeInput(t *testing.T) {
	s := openTemp(t)
	evil := "x\x1b]52;c;AAAA\x07\u202e"
	checks := []error{}
	_, err := s.Key(ctx(), evil)
	checks = append(checks, err)
	_, err = s.Domain(ctx(), evil+".tn")
	checks = append(checks, err)
	_, err = s.DeleteDomain(ctx(), "ok.tn")
	checks = append(checks, err)
	k, _, _ := s.CreateKey(ctx(), "name", model.Policy{})
	_, err = s.LinkKey(ctx(), k.ID, "missing\u202e.tn")
	checks = append(checks, err)
	err = s.RevokeToken(ctx(), evil)
	checks = append(checks, err)
	for i, err := range checks {
		if err == nil {
			t.Fatalf("check %d: no error", i)
		}
		for _, r := range err.Error() {
			if r == 0x1b || r == 0x07 || model.IsBidi(r) {
				t.Fatalf("check %d: error %q carries a raw control or bidi character", i, err)
			}
		}
	}
}

// A store from before per-day refused hosts is migrated at open: each host
// goes to the day it was last seen, within the daily bound, and the old
// bucket is gone.
func TestRefusedHostsMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "console.db")
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := s.CreateKey(ctx(), "old", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := time.Now().UTC().Add(-time.Hour)
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte("refused"))
		if err != nil {
			return err
		}
		for i := range 150 {
			v := make([]byte, 16)
			binary.BigEndian.PutUint64(v, uint64(i+1))
			binary.BigEndian.PutUint64(v[8:], uint64(seen.UnixNano()))
			if err := b.Put([]byte(fmt.Sprintf("%s\x00h%03d.tn", k.ID, i)), v); err != nil {
				return err
			}
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err = bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hs, err := s.RefusedHosts(ctx(), k.ID)
	if err != nil || len(hs) != store.MaxRefusedHostsPerDay+1 || !hs[len(hs)-1].Other {
		t.Fatalf("after migration: %d entries, %v", len(hs), err)
	}
	var sum uint64
	for _, h := range hs {
		sum += h.Count
	}
	if sum != 150*151/2 {
		t.Fatalf("migrated counts sum to %d, want %d", sum, 150*151/2)
	}
}
