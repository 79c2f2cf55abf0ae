// Package storetest is the conformance suite every store.Store must pass:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openFresh(t) })
//	}
//
// open must return a new, empty store for each call and arrange its cleanup
// with t.Cleanup (a Close that returns store.ErrClosed there is fine: one
// subtest closes its store itself). The suite uses only the store.Store
// interface and the real clock, so it runs against any backend, local or
// remote.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// Actor is the audit actor the suite puts in its contexts.
const Actor = "storetest-alice"

// Run runs every conformance test, each on a fresh store from open.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CreateAndGet", testCreateAndGet},
		{"CreateInvalidName", testCreateInvalidName},
		{"RenameInvalidName", testRenameInvalidName},
		{"KeysOldestFirst", testKeysOldestFirst},
		{"UnknownKey", testUnknownKey},
		{"Rename", testRename},
		{"Transitions", testTransitions},
		{"RevokeConfirm", testRevokeConfirm},
		{"RevokedIsFinal", testRevokedIsFinal},
		{"Rotate", testRotate},
		{"AddDomainNormalises", testAddDomainNormalises},
		{"AddDomainDuplicate", testAddDomainDuplicate},
		{"AddDomainInvalid", testAddDomainInvalid},
		{"DomainsSorted", testDomainsSorted},
		{"Links", testLinks},
		{"LinkAllOrNothing", testLinkAllOrNothing},
		{"Unlink", testUnlink},
		{"DeleteDomain", testDeleteDomain},
		{"Audit", testAudit},
		{"AuditFilters", testAuditFilters},
		{"AuditPaging", testAuditPaging},
		{"Watch", testWatch},
		{"Revisions", testRevisions},
		{"Usage", testUsage},
		{"UsageRefusesBadInput", testUsageRefusesBadInput},
		{"RefusedHostsBound", testRefusedHostsBound},
		{"MaintainUsage", testMaintainUsage},
		{"Concurrency", testConcurrency},
		{"Close", testClose},
	}
	tests = append(tests, policyTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			tc.fn(t, s)
		})
	}
}

// ctx returns a context with the suite's actor that ends with the test.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(store.WithActor(context.Background(), Actor), time.Minute)
	t.Cleanup(cancel)
	return c
}

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// result holds a value and an error, so that r(f()).must(t) fails the test
// on error and returns the value otherwise.
type result[T any] struct {
	v   T
	err error
}

func r[T any](v T, err error) result[T] { return result[T]{v, err} }

func (x result[T]) must(t *testing.T) T {
	t.Helper()
	if x.err != nil {
		t.Fatal(x.err)
	}
	return x.v
}

func createKey(t *testing.T, s store.Store, name string) (model.Key, string) {
	t.Helper()
	k, secret, err := s.CreateKey(ctx(t), name, model.Policy{})
	if err != nil {
		t.Fatalf("CreateKey(%q): %v", name, err)
	}
	return k, secret
}

func addDomain(t *testing.T, s store.Store, name string) model.Domain {
	t.Helper()
	d, err := s.AddDomain(ctx(t), name)
	if err != nil {
		t.Fatalf("AddDomain(%q): %v", name, err)
	}
	return d
}

func getKey(t *testing.T, s store.Store, id string) model.Key {
	t.Helper()
	return r(s.Key(ctx(t), id)).must(t)
}

func auditLen(t *testing.T, s store.Store) int {
	t.Helper()
	return len(r(s.Audit(ctx(t), store.AuditQuery{})).must(t))
}

// snapshot is the whole visible state, for "nothing changed" checks.
func snapshot(t *testing.T, s store.Store) string {
	t.Helper()
	keys := r(s.Keys(ctx(t))).must(t)
	for i := range keys {
		keys[i] = normKey(keys[i])
	}
	doms := r(s.Domains(ctx(t))).must(t)
	for i := range doms {
		doms[i].Created = doms[i].Created.UTC()
		if len(doms[i].Keys) == 0 {
			doms[i].Keys = nil
		}
	}
	b, err := json.Marshal(struct {
		Keys    []model.Key
		Domains []model.Domain
		Audit   int
	}{keys, doms, auditLen(t, s)})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// normKey drops what a backend may legitimately not carry (the digest, time
// zones, nil versus empty lists) so keys can be compared.
func normKey(k model.Key) model.Key {
	k.Digest = model.Digest{}
	k.Created = k.Created.UTC()
	k.StatusChanged = k.StatusChanged.UTC()
	k.LastUsed = k.LastUsed.UTC()
	if len(k.Domains) == 0 {
		k.Domains = nil
	}
	return k
}

func sameKey(t *testing.T, got, want model.Key, what string) {
	t.Helper()
	g, w := normKey(got), normKey(want)
	gj, _ := json.Marshal(g)
	wj, _ := json.Marshal(w)
	if string(gj) != string(wj) {
		t.Fatalf("%s:\n got %s\nwant %s", what, gj, wj)
	}
}

func unchanged(t *testing.T, s store.Store, before, what string) {
	t.Helper()
	if after := snapshot(t, s); after != before {
		t.Fatalf("%s changed the store:\nbefore %s\nafter  %s", what, before, after)
	}
}

func testCreateAndGet(t *testing.T, s store.Store) {
	start := time.Now().Add(-time.Second)
	k, secret := createKey(t, s, "  Production web  ")
	if !model.ValidSecret(secret) {
		t.Fatalf("secret %q does not match ^ak_[0-9a-f]{32}$", secret)
	}
	if k.ID == "" || strings.Contains(k.ID, secret[3:]) {
		t.Fatalf("bad id %q", k.ID)
	}
	if k.Name != "Production web" {
		t.Fatalf("name = %q, want it trimmed to %q", k.Name, "Production web")
	}
	if k.Prefix != secret[:11] || k.Prefix != model.DisplayPrefix(secret) {
		t.Fatalf("prefix = %q, want %q", k.Prefix, secret[:11])
	}
	if k.Status != model.Active {
		t.Fatalf("status = %q, want active", k.Status)
	}
	if k.Created.Before(start) || k.Created.After(time.Now().Add(time.Second)) {
		t.Fatalf("created = %v, want about now", k.Created)
	}
	if k.StatusChanged.Before(k.Created) {
		t.Fatalf("status changed %v before created %v", k.StatusChanged, k.Created)
	}
	if len(k.Domains) != 0 || !k.Unrestricted() || !k.LastUsed.IsZero() {
		t.Fatalf("new key should have no domains and no use: %+v", k)
	}
	if k.Replaces != "" || k.ReplacedBy != "" {
		t.Fatalf("new key should replace nothing: %+v", k)
	}
	sameKey(t, getKey(t, s, k.ID), k, "Key(id)")
	byDigest := r(s.KeyByDigest(ctx(t), model.DigestOf(secret))).must(t)
	sameKey(t, byDigest, k, "KeyByDigest")
	keys := r(s.Keys(ctx(t))).must(t)
	if len(keys) != 1 {
		t.Fatalf("Keys() = %d keys, want 1", len(keys))
	}
	sameKey(t, keys[0], k, "Keys()[0]")

	// A second key never shares the secret or the id.
	k2, secret2 := createKey(t, s, "Production web")
	if k2.ID == k.ID || secret2 == secret {
		t.Fatal("two keys share an id or a secret")
	}
	if k2.Name != k.Name {
		t.Fatal("duplicate names must be allowed")
	}
	// The returned key is a copy the caller owns.
	k.Domains = append(k.Domains, "tampered.tn")
	if got := getKey(t, s, k.ID); len(got.Domains) != 0 {
		t.Fatal("changing a returned key changed the store")
	}
	// 100 characters (not bytes) is the limit.
	long := strings.Repeat("é", model.MaxNameLen)
	k3, _ := createKey(t, s, long)
	if k3.Name != long {
		t.Fatalf("a 100-character name was changed to %q", k3.Name)
	}
}

func testCreateInvalidName(t *testing.T, s store.Store) {
	createKey(t, s, "existing")
	before := snapshot(t, s)
	for _, name := range append([]string{
		"", "   ", "\t\n", "a\x00b", "red\x1b[31m", "bell\a", "del\x7f",
		"rtl\u202eevil", strings.Repeat("x", model.MaxNameLen+1), "bad\xffutf8",
	}, hostileNames...) {
		_, secret, err := s.CreateKey(ctx(t), name, model.Policy{})
		wantErr(t, err, store.ErrInvalid, fmt.Sprintf("CreateKey(%q)", name))
		if secret != "" {
			t.Fatalf("CreateKey(%q) failed but returned a secret", name)
		}
	}
	unchanged(t, s, before, "invalid CreateKey")
}

// hostileNames are names SPEC.md "Names and text" refuses beyond control
// characters: invisible and format characters, combining-mark floods, and
// names a command would read as a key reference.
var hostileNames = []string{
	"pay\u200bments", "pay\u200dments", "\ufeffpayments", "pay\u00adments", "a\u2028b", "a\u2029b",
	"pay\u3164ments", "pay\U000E0041ments", "a\u2060b", "a\u180eb", "a" + strings.Repeat("\u0301", 5),
	"ak_ec6283fc", "AK_partner", "k0123456789ab", "kec628",
}

func testRenameInvalidName(t *testing.T, s store.Store) {
	k, _ := createKey(t, s, "good name")
	before := snapshot(t, s)
	for _, name := range append([]string{"", "red\x1b[31m", "bad\xffutf8"}, hostileNames...) {
		_, err := s.RenameKey(ctx(t), k.ID, name)
		wantErr(t, err, store.ErrInvalid, fmt.Sprintf("RenameKey(%q)", name))
	}
	// The message names the character, so the caller can fix the name.
	_, err := s.RenameKey(ctx(t), k.ID, "pay\u200bments")
	if err == nil || !strings.Contains(err.Error(), "U+200B zero width space") {
		t.Fatalf("RenameKey with U+200B: %v, want the character named", err)
	}
	unchanged(t, s, before, "invalid RenameKey")
}

func testKeysOldestFirst(t *testing.T, s store.Store) {
	var ids []string
	for i := range 12 {
		k, _ := createKey(t, s, fmt.Sprintf("key %02d", i))
		ids = append(ids, k.ID)
	}
	r(s.DisableKey(ctx(t), ids[3])).must(t)
	r(s.RevokeKey(ctx(t), ids[5], "key 05")).must(t)
	r(s.RenameKey(ctx(t), ids[0], "zzz renamed")).must(t)
	keys := r(s.Keys(ctx(t))).must(t)
	if len(keys) != len(ids) {
		t.Fatalf("Keys() = %d keys, want %d", len(keys), len(ids))
	}
	for i, k := range keys {
		if k.ID != ids[i] {
			t.Fatalf("Keys()[%d] = %s, want %s (oldest first)", i, k.ID, ids[i])
		}
		if i > 0 && k.Created.Before(keys[i-1].Created) {
			t.Fatalf("Keys() not oldest first at %d", i)
		}
		sameKey(t, k, getKey(t, s, k.ID), "Keys() entry versus Key(id)")
	}
	if keys[3].Status != model.Disabled || keys[5].Status != model.Revoked || keys[0].Name != "zzz renamed" {
		t.Fatalf("Keys() does not reflect changes: %+v", keys)
	}
}

func testUnknownKey(t *testing.T, s store.Store) {
	createKey(t, s, "real")
	addDomain(t, s, "mysite.tn")
	before := snapshot(t, s)
	const id = "k000000000000"
	c := ctx(t)
	_, err := s.Key(c, id)
	wantErr(t, err, store.ErrKeyNotFound, "Key(unknown)")
	wantErr(t, err, store.ErrNotFound, "Key(unknown)")
	_, err = s.KeyByDigest(c, model.DigestOf(model.NewSecret()))
	wantErr(t, err, store.ErrKeyNotFound, "KeyByDigest(unknown)")
	_, err = s.Key(c, "")
	wantErr(t, err, store.ErrKeyNotFound, "Key(\"\")")
	_, err = s.RenameKey(c, id, "x")
	wantErr(t, err, store.ErrKeyNotFound, "RenameKey(unknown)")
	_, err = s.DisableKey(c, id)
	wantErr(t, err, store.ErrKeyNotFound, "DisableKey(unknown)")
	_, err = s.EnableKey(c, id)
	wantErr(t, err, store.ErrKeyNotFound, "EnableKey(unknown)")
	_, err = s.RevokeKey(c, id, "x")
	wantErr(t, err, store.ErrKeyNotFound, "RevokeKey(unknown)")
	_, _, err = s.RotateKey(c, id, 0)
	wantErr(t, err, store.ErrKeyNotFound, "RotateKey(unknown)")
	_, err = s.LinkKey(c, id, "mysite.tn")
	wantErr(t, err, store.ErrKeyNotFound, "LinkKey(unknown)")
	_, err = s.UnlinkKey(c, id, "mysite.tn")
	wantErr(t, err, store.ErrKeyNotFound, "UnlinkKey(unknown)")
	unchanged(t, s, before, "operations on an unknown key")
}

func testRename(t *testing.T, s store.Store) {
	k, _ := createKey(t, s, "old name")
	got := r(s.RenameKey(ctx(t), k.ID, "  new name ")).must(t)
	if got.Name != "new name" {
		t.Fatalf("renamed to %q, want %q", got.Name, "new name")
	}
	if got := getKey(t, s, k.ID); got.Name != "new name" || got.Status != model.Active || got.Prefix != k.Prefix {
		t.Fatalf("after rename: %+v", got)
	}
	es := r(s.Audit(ctx(t), store.AuditQuery{Object: "key:" + k.ID, Limit: 1})).must(t)
	if len(es) != 1 || es[0].Action != model.AuditRename || es[0].Before != "old name" || es[0].After != "new name" || es[0].Actor != Actor {
		t.Fatalf("rename audit entry = %+v", es)
	}

	before := snapshot(t, s)
	for _, name := range []string{"", "  ", "x\x1by", strings.Repeat("n", 101), "a\u2066b"} {
		_, err := s.RenameKey(ctx(t), k.ID, name)
		wantErr(t, err, store.ErrInvalid, fmt.Sprintf("RenameKey(%q)", name))
	}
	unchanged(t, s, before, "invalid RenameKey")
}

func testTransitions(t *testing.T, s store.Store) {
	k, _ := createKey(t, s, "flip")
	c := ctx(t)
	steps := []struct {
		op   string
		want model.Status
		err  error
	}{
		{"enable", model.Active, model.ErrAlreadyActive},
		{"disable", model.Disabled, nil},
		{"disable", model.Disabled, model.ErrAlreadyDisabled},
		{"enable", model.Active, nil},
		{"disable", model.Disabled, nil},
		{"enable", model.Active, nil},
		{"disable", model.Disabled, nil},
		{"revoke", model.Revoked, nil}, // from Disabled
		{"enable", model.Revoked, model.ErrKeyRevoked},
		{"disable", model.Revoked, model.ErrKeyRevoked},
		{"revoke", model.Revoked, model.ErrKeyRevoked},
	}
	prev := getKey(t, s, k.ID)
	for i, st := range steps {
		time.Sleep(2 * time.Millisecond) // so that each change has a later time
		before := snapshot(t, s)
		var got model.Key
		var err error
		switch st.op {
		case "enable":
			got, err = s.EnableKey(c, k.ID)
		case "disable":
			got, err = s.DisableKey(c, k.ID)
		case "revoke":
			got, err = s.RevokeKey(c, k.ID, "flip")
		}
		what := fmt.Sprintf("step %d: %s from %s", i, st.op, prev.Status)
		if st.err != nil {
			wantErr(t, err, st.err, what)
			unchanged(t, s, before, what+" (refused)")
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got.Status != st.want {
			t.Fatalf("%s: status %s, want %s", what, got.Status, st.want)
		}
		stored := getKey(t, s, k.ID)
		sameKey(t, stored, got, what+": returned versus stored")
		if !stored.StatusChanged.After(prev.StatusChanged) {
			t.Fatalf("%s: status-changed time %v not after the previous %v", what, stored.StatusChanged, prev.StatusChanged)
		}
		if !stored.Created.Equal(k.Created) {
			t.Fatalf("%s: created time changed", what)
		}
		es := r(s.Audit(c, store.AuditQuery{Object: "key:" + k.ID, Limit: 1})).must(t)
		if len(es) != 1 || es[0].Action != st.op || es[0].Before != string(prev.Status) || es[0].After != string(st.want) {
			t.Fatalf("%s: audit entry %+v, want action %s %s→%s", what, es, st.op, prev.Status, st.want)
		}
		prev = stored
	}
	// Revoking straight from Active works too.
	k2, _ := createKey(t, s, "direct")
	if got := r(s.RevokeKey(c, k2.ID, "direct")).must(t); got.Status != model.Revoked {
		t.Fatalf("revoke from active: %s", got.Status)
	}
}

func testRevokeConfirm(t *testing.T, s store.Store) {
	k, _ := createKey(t, s, "Prod key")
	before := snapshot(t, s)
	for _, confirm := range []string{"", "prod key", "Prod key ", " Prod key", "Prod", "Prod  key", k.ID, k.Prefix} {
		_, err := s.RevokeKey(ctx(t), k.ID, confirm)
		wantErr(t, err, model.ErrConfirmMismatch, fmt.Sprintf("RevokeKey(confirm %q)", confirm))
	}
	unchanged(t, s, before, "RevokeKey with a wrong confirmation")
	if got := r(s.RevokeKey(ctx(t), k.ID, "Prod key")).must(t); got.Status != model.Revoked {
		t.Fatalf("status after revoke = %s", got.Status)
	}
	if got := getKey(t, s, k.ID); got.Status != model.Revoked {
		t.Fatalf("stored status after revoke = %s", got.Status)
	}
}

func testRevokedIsFinal(t *testing.T, s store.Store) {
	k, secret := createKey(t, s, "gone")
	addDomain(t, s, "mysite.tn")
	addDomain(t, s, "other.tn")
	r(s.LinkKey(ctx(t), k.ID, "mysite.tn")).must(t)
	r(s.RevokeKey(ctx(t), k.ID, "gone")).must(t)
	before := snapshot(t, s)
	c := ctx(t)
	_, err := s.RenameKey(c, k.ID, "back")
	wantErr(t, err, model.ErrKeyRevoked, "RenameKey(revoked)")
	_, err = s.LinkKey(c, k.ID, "other.tn")
	wantErr(t, err, model.ErrKeyRevoked, "LinkKey(revoked)")
	_, _, err = s.RotateKey(c, k.ID, 0)
	wantErr(t, err, model.ErrKeyRevoked, "RotateKey(revoked)")
	_, err = s.EnableKey(c, k.ID)
	wantErr(t, err, model.ErrKeyRevoked, "EnableKey(revoked)")
	unchanged(t, s, before, "changes refused on a revoked key")
	// The row stays, for the record, and the gate still finds it.
	got := r(s.KeyByDigest(c, model.DigestOf(secret))).must(t)
	if got.Status != model.Revoked || got.Name != "gone" {
		t.Fatalf("revoked key by digest: %+v", got)
	}
}

func testRotate(t *testing.T, s store.Store) {
	c := ctx(t)
	old, oldSecret := createKey(t, s, "mobile app")
	addDomain(t, s, "mysite.tn")
	addDomain(t, s, "app.mysite.tn")
	r(s.LinkKey(c, old.ID, "mysite.tn", "app.mysite.tn")).must(t)
	r(s.DisableKey(c, old.ID)).must(t)
	nk, secret, err := s.RotateKey(c, old.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !model.ValidSecret(secret) || secret == oldSecret {
		t.Fatalf("rotated secret %q", secret)
	}
	if nk.ID == old.ID || nk.Name != "mobile app" || nk.Status != model.Active || nk.Prefix != secret[:11] {
		t.Fatalf("rotated key: %+v", nk)
	}
	if !slices.Equal(nk.Domains, []string{"app.mysite.tn", "mysite.tn"}) {
		t.Fatalf("rotated key domains = %v", nk.Domains)
	}
	if nk.Replaces != old.ID {
		t.Fatalf("new key Replaces = %q, want %q", nk.Replaces, old.ID)
	}
	gotOld := getKey(t, s, old.ID)
	if gotOld.ReplacedBy != nk.ID {
		t.Fatalf("old key ReplacedBy = %q, want %q", gotOld.ReplacedBy, nk.ID)
	}
	if gotOld.Status != model.Disabled {
		t.Fatalf("rotation changed the old key's status to %s", gotOld.Status)
	}
	if !slices.Equal(gotOld.Domains, nk.Domains) {
		t.Fatalf("old key lost its domains: %v", gotOld.Domains)
	}
	sameKey(t, r(s.KeyByDigest(c, model.DigestOf(secret))).must(t), nk, "KeyByDigest(new secret)")
	sameKey(t, r(s.KeyByDigest(c, model.DigestOf(oldSecret))).must(t), gotOld, "KeyByDigest(old secret)")
	for _, d := range []string{"mysite.tn", "app.mysite.tn"} {
		dom := r(s.Domain(c, d)).must(t)
		if !slices.Contains(dom.Keys, nk.ID) || !slices.Contains(dom.Keys, old.ID) {
			t.Fatalf("domain %s keys = %v, want both keys", d, dom.Keys)
		}
	}
	es := r(s.Audit(c, store.AuditQuery{Object: "key:" + old.ID, Limit: 1})).must(t)
	if len(es) != 1 || es[0].Action != model.AuditRotate || es[0].Actor != Actor {
		t.Fatalf("rotate audit entry = %+v", es)
	}
	// An Active key rotates too and stays Active.
	a, _ := createKey(t, s, "server")
	b, _ := must2(t)(s.RotateKey(c, a.ID, 0))
	if got := getKey(t, s, a.ID); got.Status != model.Active || got.ReplacedBy != b.ID || len(b.Domains) != 0 {
		t.Fatalf("rotating an active key without domains: old %+v new %+v", got, b)
	}
	if len(r(s.Keys(c)).must(t)) != 4 {
		t.Fatal("rotation should add exactly one key each time")
	}
}

func must2(t *testing.T) func(k model.Key, secret string, err error) (model.Key, string) {
	return func(k model.Key, secret string, err error) (model.Key, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return k, secret
	}
}

func testAddDomainNormalises(t *testing.T, s store.Store) {
	c := ctx(t)
	start := time.Now().Add(-time.Second)
	for _, tc := range []struct{ in, want string }{
		{"MySite.TN.", "mysite.tn"},
		{"  app.mysite.tn  ", "app.mysite.tn"},
		{"localhost", "localhost"},
		{"127.0.0.1", "127.0.0.1"},
		{"::1", "::1"},
		{"café.tn", "xn--caf-dma.tn"},
	} {
		d, err := s.AddDomain(c, tc.in)
		if err != nil {
			t.Fatalf("AddDomain(%q): %v", tc.in, err)
		}
		if d.Name != tc.want {
			t.Fatalf("AddDomain(%q) stored %q, want %q", tc.in, d.Name, tc.want)
		}
		if len(d.Keys) != 0 || d.Created.Before(start) {
			t.Fatalf("AddDomain(%q) = %+v", tc.in, d)
		}
		got := r(s.Domain(c, tc.want)).must(t)
		if got.Name != tc.want {
			t.Fatalf("Domain(%q) = %+v", tc.want, got)
		}
		if got := r(s.Domain(c, tc.in)).must(t); got.Name != tc.want {
			t.Fatalf("Domain(%q) by the spelling it was added with = %+v", tc.in, got)
		}
	}
	if d := r(s.Domain(c, "xn--caf-dma.tn")).must(t); d.Unicode != "café.tn" {
		t.Fatalf("Unicode form of xn--caf-dma.tn = %q, want café.tn", d.Unicode)
	}
	if d := r(s.Domain(c, "MYSITE.tn")).must(t); d.Unicode != "mysite.tn" {
		t.Fatalf("Unicode form of an ASCII name = %q", d.Unicode)
	}
	_, err := s.Domain(c, "unknown.tn")
	wantErr(t, err, store.ErrDomainNotFound, "Domain(unknown)")
	wantErr(t, err, store.ErrNotFound, "Domain(unknown)")
	es := r(s.Audit(c, store.AuditQuery{Object: "domain:mysite.tn"})).must(t)
	if len(es) != 1 || es[0].Action != model.AuditDomainAdd || es[0].Actor != Actor {
		t.Fatalf("domain add audit = %+v", es)
	}
}

func testAddDomainDuplicate(t *testing.T, s store.Store) {
	first := addDomain(t, s, "mysite.tn")
	k, _ := createKey(t, s, "k")
	r(s.LinkKey(ctx(t), k.ID, "mysite.tn")).must(t)
	before := snapshot(t, s)
	for _, name := range []string{"mysite.tn", "MYSITE.TN", "mysite.tn."} {
		d, err := s.AddDomain(ctx(t), name)
		wantErr(t, err, store.ErrDomainExists, fmt.Sprintf("AddDomain(%q) again", name))
		if d.Name != "mysite.tn" || !d.Created.Equal(first.Created) || !slices.Equal(d.Keys, []string{k.ID}) {
			t.Fatalf("AddDomain(%q) again should return the existing domain, got %+v", name, d)
		}
	}
	unchanged(t, s, before, "adding an existing domain")
}

func testAddDomainInvalid(t *testing.T, s store.Store) {
	addDomain(t, s, "mysite.tn")
	before := snapshot(t, s)
	for _, name := range []string{
		"https://mysite.tn", "http://mysite.tn", "mysite.tn/dashboard", "*.mysite.tn",
		"mysite.tn:8443", "", "   ", "my..site.tn", ".mysite.tn", "-mysite.tn", "mysite-.tn",
		"my_site.tn", "user@mysite.tn", "mysite.tn?x=1", "my site.tn", "mysite.tn\x00",
		strings.Repeat("a", 64) + ".tn", strings.Repeat("abcdefghi.", 26) + "tn",
	} {
		_, err := s.AddDomain(ctx(t), name)
		wantErr(t, err, store.ErrInvalid, fmt.Sprintf("AddDomain(%q)", name))
		var de *model.DomainError
		if !errors.As(err, &de) {
			t.Fatalf("AddDomain(%q): error %v is not a *model.DomainError", name, err)
		}
		if de.Problem == "" {
			t.Fatalf("AddDomain(%q): DomainError without a problem", name)
		}
	}
	unchanged(t, s, before, "invalid AddDomain")
}

func testDomainsSorted(t *testing.T, s store.Store) {
	for _, d := range []string{"zeta.tn", "app.mysite.tn", "mysite.tn", "a.tn", "mysite.tn.example"} {
		addDomain(t, s, d)
	}
	ds := r(s.Domains(ctx(t))).must(t)
	var names []string
	for _, d := range ds {
		names = append(names, d.Name)
	}
	want := []string{"a.tn", "app.mysite.tn", "mysite.tn", "mysite.tn.example", "zeta.tn"}
	if !slices.Equal(names, want) {
		t.Fatalf("Domains() = %v, want %v", names, want)
	}
}

// checkLinks verifies that Key.Domains and Domain.Keys describe the same
// links, sorted, with no dangling names.
func checkLinks(t *testing.T, s store.Store) {
	t.Helper()
	keys := r(s.Keys(ctx(t))).must(t)
	doms := r(s.Domains(ctx(t))).must(t)
	byID := map[string]model.Key{}
	for _, k := range keys {
		byID[k.ID] = k
		if !slices.IsSorted(k.Domains) {
			t.Fatalf("key %s domains not sorted: %v", k.ID, k.Domains)
		}
	}
	byName := map[string]model.Domain{}
	for _, d := range doms {
		byName[d.Name] = d
		if !slices.IsSorted(d.Keys) {
			t.Fatalf("domain %s keys not sorted: %v", d.Name, d.Keys)
		}
		for _, id := range d.Keys {
			k, ok := byID[id]
			if !ok {
				t.Fatalf("domain %s links to unknown key %s", d.Name, id)
			}
			if !slices.Contains(k.Domains, d.Name) {
				t.Fatalf("domain %s lists key %s, whose domains are %v", d.Name, id, k.Domains)
			}
		}
	}
	for _, k := range keys {
		for _, name := range k.Domains {
			d, ok := byName[name]
			if !ok {
				t.Fatalf("key %s links to missing domain %q", k.ID, name)
			}
			if !slices.Contains(d.Keys, k.ID) {
				t.Fatalf("key %s lists domain %s, whose keys are %v", k.ID, name, d.Keys)
			}
		}
	}
}

func testLinks(t *testing.T, s store.Store) {
	c := ctx(t)
	a, _ := createKey(t, s, "a")
	b, _ := createKey(t, s, "b")
	for _, d := range []string{"mysite.tn", "app.mysite.tn", "other.tn"} {
		addDomain(t, s, d)
	}
	n0 := auditLen(t, s)
	got := r(s.LinkKey(c, a.ID, "mysite.tn", "APP.mysite.tn.")).must(t)
	if !slices.Equal(got.Domains, []string{"app.mysite.tn", "mysite.tn"}) {
		t.Fatalf("LinkKey returned domains %v", got.Domains)
	}
	if n := auditLen(t, s) - n0; n != 2 {
		t.Fatalf("linking 2 domains wrote %d audit entries, want 2", n)
	}
	es := r(s.Audit(c, store.AuditQuery{Object: "key:" + a.ID, Limit: 2})).must(t)
	for _, e := range es {
		if e.Action != model.AuditLink || e.Actor != Actor || (e.After != "mysite.tn" && e.After != "app.mysite.tn") {
			t.Fatalf("link audit entry %+v", e)
		}
	}
	r(s.LinkKey(c, b.ID, "mysite.tn")).must(t)
	if d := r(s.Domain(c, "mysite.tn")).must(t); !slices.Equal(d.Keys, sorted(a.ID, b.ID)) {
		t.Fatalf("mysite.tn keys = %v", d.Keys)
	}
	if d := r(s.Domain(c, "app.mysite.tn")).must(t); !slices.Equal(d.Keys, []string{a.ID}) {
		t.Fatalf("app.mysite.tn keys = %v", d.Keys)
	}
	if d := r(s.Domain(c, "other.tn")).must(t); len(d.Keys) != 0 {
		t.Fatalf("other.tn keys = %v", d.Keys)
	}
	checkLinks(t, s)

	// Linking again changes nothing and writes nothing.
	before := snapshot(t, s)
	got = r(s.LinkKey(c, a.ID, "mysite.tn", "mysite.tn")).must(t)
	if !slices.Equal(got.Domains, []string{"app.mysite.tn", "mysite.tn"}) {
		t.Fatalf("relink returned %v", got.Domains)
	}
	unchanged(t, s, before, "linking an already linked domain")
	// Linking a disabled key is allowed.
	r(s.DisableKey(c, b.ID)).must(t)
	if got := r(s.LinkKey(c, b.ID, "other.tn")).must(t); !slices.Equal(got.Domains, []string{"mysite.tn", "other.tn"}) {
		t.Fatalf("link on disabled key: %v", got.Domains)
	}
	checkLinks(t, s)
}

func sorted(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

func testLinkAllOrNothing(t *testing.T, s store.Store) {
	c := ctx(t)
	k, _ := createKey(t, s, "k")
	addDomain(t, s, "mysite.tn")
	addDomain(t, s, "other.tn")
	before := snapshot(t, s)
	_, err := s.LinkKey(c, k.ID, "mysite.tn", "missing.tn", "other.tn")
	wantErr(t, err, store.ErrDomainNotFound, "LinkKey with an unknown domain")
	if !strings.Contains(err.Error(), "missing.tn") {
		t.Fatalf("error %q should name missing.tn", err)
	}
	_, err = s.LinkKey(c, k.ID, "mysite.tn", "https://bad.tn")
	if err == nil {
		t.Fatal("LinkKey with an invalid domain succeeded")
	}
	unchanged(t, s, before, "a failed LinkKey")
	if got := getKey(t, s, k.ID); len(got.Domains) != 0 {
		t.Fatalf("failed link left domains %v", got.Domains)
	}
}

func testUnlink(t *testing.T, s store.Store) {
	c := ctx(t)
	a, _ := createKey(t, s, "a")
	b, _ := createKey(t, s, "b")
	for _, d := range []string{"mysite.tn", "app.mysite.tn", "other.tn"} {
		addDomain(t, s, d)
	}
	r(s.LinkKey(c, a.ID, "mysite.tn", "app.mysite.tn")).must(t)
	r(s.LinkKey(c, b.ID, "mysite.tn")).must(t)
	n0 := auditLen(t, s)
	// other.tn is not linked: ignored.
	got := r(s.UnlinkKey(c, a.ID, "MySite.tn", "other.tn")).must(t)
	if !slices.Equal(got.Domains, []string{"app.mysite.tn"}) {
		t.Fatalf("after unlink: %v", got.Domains)
	}
	if n := auditLen(t, s) - n0; n != 1 {
		t.Fatalf("unlinking one domain wrote %d audit entries", n)
	}
	es := r(s.Audit(c, store.AuditQuery{Object: "key:" + a.ID, Limit: 1})).must(t)
	if es[0].Action != model.AuditUnlink || es[0].Before != "mysite.tn" || es[0].Actor != Actor {
		t.Fatalf("unlink audit entry %+v", es[0])
	}
	if d := r(s.Domain(c, "mysite.tn")).must(t); !slices.Equal(d.Keys, []string{b.ID}) {
		t.Fatalf("mysite.tn keys after unlink = %v", d.Keys)
	}
	checkLinks(t, s)
	before := snapshot(t, s)
	_, err := s.UnlinkKey(c, a.ID, "app.mysite.tn", "missing.tn")
	wantErr(t, err, store.ErrDomainNotFound, "UnlinkKey with an unknown domain")
	unchanged(t, s, before, "a failed UnlinkKey")
	// Unlinking the last domain makes the key unrestricted.
	got = r(s.UnlinkKey(c, a.ID, "app.mysite.tn")).must(t)
	if !got.Unrestricted() {
		t.Fatalf("key should be unrestricted: %v", got.Domains)
	}
	// A revoked key may still be unlinked (cleaning up never hurts).
	r(s.RevokeKey(c, b.ID, "b")).must(t)
	if got := r(s.UnlinkKey(c, b.ID, "mysite.tn")).must(t); len(got.Domains) != 0 {
		t.Fatalf("unlink on revoked key: %v", got.Domains)
	}
	checkLinks(t, s)
}

func testDeleteDomain(t *testing.T, s store.Store) {
	c := ctx(t)
	a, _ := createKey(t, s, "a")
	b, _ := createKey(t, s, "b")
	x, _ := createKey(t, s, "untouched")
	for _, d := range []string{"mysite.tn", "app.mysite.tn", "other.tn"} {
		addDomain(t, s, d)
	}
	r(s.LinkKey(c, a.ID, "mysite.tn", "app.mysite.tn")).must(t)
	r(s.LinkKey(c, b.ID, "mysite.tn")).must(t)
	r(s.LinkKey(c, x.ID, "other.tn")).must(t)
	n0 := auditLen(t, s)
	d, err := s.DeleteDomain(c, "MYSITE.tn")
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "mysite.tn" || !slices.Equal(d.Keys, sorted(a.ID, b.ID)) {
		t.Fatalf("DeleteDomain returned %+v, want mysite.tn with keys %v", d, sorted(a.ID, b.ID))
	}
	_, err = s.Domain(c, "mysite.tn")
	wantErr(t, err, store.ErrDomainNotFound, "Domain(deleted)")
	if got := getKey(t, s, a.ID); !slices.Equal(got.Domains, []string{"app.mysite.tn"}) {
		t.Fatalf("key a domains after delete = %v", got.Domains)
	}
	if got := getKey(t, s, b.ID); !got.Unrestricted() {
		t.Fatalf("key b domains after delete = %v", got.Domains)
	}
	if got := getKey(t, s, x.ID); !slices.Equal(got.Domains, []string{"other.tn"}) {
		t.Fatalf("untouched key domains = %v", got.Domains)
	}
	for _, dd := range r(s.Domains(c)).must(t) {
		if dd.Name == "mysite.tn" {
			t.Fatal("Domains() still lists the deleted domain")
		}
	}
	checkLinks(t, s)
	// One delete entry plus one unlink per key.
	es := r(s.Audit(c, store.AuditQuery{})).must(t)[:auditLen(t, s)-n0]
	var del, unl int
	for _, e := range es {
		switch {
		case e.Action == model.AuditDomainDelete && e.Object == "domain:mysite.tn":
			del++
		case e.Action == model.AuditUnlink && e.Before == "mysite.tn" && (e.Object == "key:"+a.ID || e.Object == "key:"+b.ID):
			unl++
		default:
			t.Fatalf("unexpected audit entry for a domain delete: %+v", e)
		}
		if e.Actor != Actor {
			t.Fatalf("audit actor %q, want %q", e.Actor, Actor)
		}
	}
	if del != 1 || unl != 2 {
		t.Fatalf("domain delete wrote %d delete and %d unlink entries, want 1 and 2", del, unl)
	}
	before := snapshot(t, s)
	_, err = s.DeleteDomain(c, "mysite.tn")
	wantErr(t, err, store.ErrDomainNotFound, "DeleteDomain twice")
	unchanged(t, s, before, "deleting a missing domain")
	// It can be added again, fresh, with no links.
	if d := addDomain(t, s, "mysite.tn"); len(d.Keys) != 0 {
		t.Fatalf("re-added domain has keys %v", d.Keys)
	}
	checkLinks(t, s)
}

func testAudit(t *testing.T, s store.Store) {
	bob := store.WithActor(ctx(t), "bob@ssh SHA256:abc")
	anon := context.Background()
	k, secret := createKey(t, s, "audited")
	r(s.RenameKey(bob, k.ID, "audited 2")).must(t)
	r(s.DisableKey(anon, k.ID)).must(t)
	r(s.EnableKey(bob, k.ID)).must(t)
	addDomain(t, s, "mysite.tn")
	r(s.LinkKey(bob, k.ID, "mysite.tn")).must(t)
	nk, secret2, err := s.RotateKey(bob, k.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	r(s.UnlinkKey(bob, k.ID, "mysite.tn")).must(t)
	r(s.RevokeKey(bob, k.ID, "audited 2")).must(t)
	r(s.DeleteDomain(bob, "mysite.tn")).must(t)

	es := r(s.Audit(ctx(t), store.AuditQuery{})).must(t)
	want := []struct{ action, object, actor string }{
		{model.AuditCreate, "key:" + k.ID, Actor},
		{model.AuditRename, "key:" + k.ID, "bob@ssh SHA256:abc"},
		{model.AuditDisable, "key:" + k.ID, "unknown"},
		{model.AuditEnable, "key:" + k.ID, "bob@ssh SHA256:abc"},
		{model.AuditDomainAdd, "domain:mysite.tn", Actor},
		{model.AuditLink, "key:" + k.ID, "bob@ssh SHA256:abc"},
		{model.AuditRotate, "key:" + k.ID, "bob@ssh SHA256:abc"},
		{model.AuditUnlink, "key:" + k.ID, "bob@ssh SHA256:abc"},
		{model.AuditRevoke, "key:" + k.ID, "bob@ssh SHA256:abc"},
		{model.AuditDomainDelete, "domain:mysite.tn", "bob@ssh SHA256:abc"},
	}
	// Every expected entry appears, in this order (newest first in the log);
	// backends may add entries (e.g. the new key's creation on rotate).
	i := len(es) - 1
	for _, w := range want {
		for i >= 0 && (es[i].Action != w.action || es[i].Object != w.object) {
			i--
		}
		if i < 0 {
			t.Fatalf("no audit entry %s %s in order; log: %s", w.action, w.object, dump(es))
		}
		if es[i].Actor != w.actor {
			t.Fatalf("entry %s %s has actor %q, want %q", w.action, w.object, es[i].Actor, w.actor)
		}
		i--
	}
	for j, e := range es {
		if j > 0 && (e.Seq >= es[j-1].Seq || e.Time.After(es[j-1].Time)) {
			t.Fatalf("audit log not newest first at %d: %s", j, dump(es))
		}
		if e.Time.IsZero() {
			t.Fatalf("audit entry without time: %+v", e)
		}
		for _, field := range []string{e.Actor, e.Action, e.Object, e.Before, e.After} {
			for _, sec := range []string{secret, secret2} {
				if strings.Contains(field, sec) || strings.Contains(field, sec[3:]) {
					t.Fatalf("audit entry %+v contains a secret", e)
				}
			}
		}
	}
	// The rotation's new key is visible in the log too.
	var newKeyEntries int
	for _, e := range es {
		if e.Object == "key:"+nk.ID {
			newKeyEntries++
		}
	}
	if newKeyEntries == 0 {
		t.Fatalf("no audit entry names the rotated key %s: %s", nk.ID, dump(es))
	}
	// Status entries carry before/after.
	for _, e := range es {
		if e.Action == model.AuditRevoke && (e.Before != "active" || e.After != "revoked") {
			t.Fatalf("revoke entry before/after = %q/%q", e.Before, e.After)
		}
	}
}

func dump(es []model.AuditEntry) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "\n  #%d %s %s %s %q→%q", e.Seq, e.Actor, e.Action, e.Object, e.Before, e.After)
	}
	return b.String()
}

func testAuditFilters(t *testing.T, s store.Store) {
	carol := store.WithActor(ctx(t), "carol")
	var ids []string
	for i := range 6 {
		c := ctx(t)
		if i%2 == 1 {
			c = carol
		}
		k, _, err := s.CreateKey(c, fmt.Sprintf("k%d", i), model.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, k.ID)
		time.Sleep(2 * time.Millisecond)
	}
	r(s.DisableKey(carol, ids[0])).must(t)
	all := r(s.Audit(ctx(t), store.AuditQuery{})).must(t)
	if len(all) != 7 {
		t.Fatalf("audit has %d entries, want 7: %s", len(all), dump(all))
	}
	byObj := r(s.Audit(ctx(t), store.AuditQuery{Object: "key:" + ids[0]})).must(t)
	if len(byObj) != 2 || byObj[0].Action != model.AuditDisable || byObj[1].Action != model.AuditCreate {
		t.Fatalf("Object filter: %s", dump(byObj))
	}
	byActor := r(s.Audit(ctx(t), store.AuditQuery{Actor: "carol"})).must(t)
	if len(byActor) != 4 {
		t.Fatalf("Actor filter: %s", dump(byActor))
	}
	for _, e := range byActor {
		if e.Actor != "carol" {
			t.Fatalf("Actor filter returned %+v", e)
		}
	}
	lim := r(s.Audit(ctx(t), store.AuditQuery{Limit: 3})).must(t)
	if len(lim) != 3 || lim[0].Seq != all[0].Seq || lim[2].Seq != all[2].Seq {
		t.Fatalf("Limit 3: %s", dump(lim))
	}
	since := all[3].Time
	var want int
	for _, e := range all {
		if !e.Time.Before(since) {
			want++
		}
	}
	got := r(s.Audit(ctx(t), store.AuditQuery{Since: since})).must(t)
	if len(got) != want || want < 4 {
		t.Fatalf("Since %v: %d entries, want %d: %s", since, len(got), want, dump(got))
	}
	both := r(s.Audit(ctx(t), store.AuditQuery{Actor: "carol", Object: "key:" + ids[1]})).must(t)
	if len(both) != 1 || both[0].Object != "key:"+ids[1] {
		t.Fatalf("Actor+Object filter: %s", dump(both))
	}
	if none := r(s.Audit(ctx(t), store.AuditQuery{Actor: "nobody"})).must(t); len(none) != 0 {
		t.Fatalf("filter matching nothing returned %s", dump(none))
	}

	// An SSH actor ("ssh:USER SHA256:FP") is found by its fingerprint
	// alone, or its user alone; a part of a word matches nothing.
	const fp = "SHA256:uJ3tX8bE5y0xkq2P1wF6dS9mR4vL7cN0aZ2hG5jK8oQ"
	alice := store.WithActor(ctx(t), "ssh:alice "+fp)
	r(s.DisableKey(alice, ids[2])).must(t)
	r(s.EnableKey(store.WithActor(ctx(t), "ssh:bob SHA256:other"), ids[2])).must(t)
	for _, q := range []string{fp, "ssh:alice", "ssh:alice " + fp} {
		got := r(s.Audit(ctx(t), store.AuditQuery{Actor: q})).must(t)
		if len(got) != 1 || got[0].Actor != "ssh:alice "+fp || got[0].Action != model.AuditDisable {
			t.Fatalf("Actor %q: %s", q, dump(got))
		}
	}
	for _, q := range []string{"SHA256:uJ3tX8", "alice", "ssh:ali", fp[:len(fp)-1]} {
		if got := r(s.Audit(ctx(t), store.AuditQuery{Actor: q})).must(t); len(got) != 0 {
			t.Fatalf("Actor %q matches %s", q, dump(got))
		}
	}
}

// testAuditPaging: Before pages through the log (each page the entries
// after the previous page's last Seq, none twice, none missed), alone and
// with the other filters; Text keeps the entries where any field holds the
// text, ignoring case.
func testAuditPaging(t *testing.T, s store.Store) {
	carol := store.WithActor(ctx(t), "Carol")
	var ids []string
	for i := range 9 {
		c := ctx(t)
		if i%3 == 0 {
			c = carol
		}
		k, _, err := s.CreateKey(c, fmt.Sprintf("Paged key %d", i), model.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, k.ID)
		r(s.RenameKey(c, k.ID, fmt.Sprintf("Paged key %d (renamed)", i))).must(t)
	}
	all := r(s.Audit(ctx(t), store.AuditQuery{})).must(t)
	if len(all) != 18 {
		t.Fatalf("audit has %d entries, want 18: %s", len(all), dump(all))
	}
	page := func(q store.AuditQuery, size int) []model.AuditEntry {
		t.Helper()
		var out []model.AuditEntry
		q.Limit = size
		for n := 0; ; n++ {
			es := r(s.Audit(ctx(t), q)).must(t)
			out = append(out, es...)
			if len(es) < size {
				return out
			}
			if n > 100 {
				t.Fatal("paging does not end")
			}
			q.Before = es[len(es)-1].Seq
		}
	}
	same := func(what string, got, want []model.AuditEntry) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d entries, want %d:%s\nwant:%s", what, len(got), len(want), dump(got), dump(want))
		}
		for i := range got {
			if got[i].Seq != want[i].Seq {
				t.Fatalf("%s: entry %d is #%d, want #%d:%s", what, i, got[i].Seq, want[i].Seq, dump(got))
			}
		}
	}
	same("pages of 4", page(store.AuditQuery{}, 4), all)
	same("pages of 1", page(store.AuditQuery{}, 1), all)
	if es := r(s.Audit(ctx(t), store.AuditQuery{Before: all[len(all)-1].Seq})).must(t); len(es) != 0 {
		t.Fatalf("before the oldest entry: %s", dump(es))
	}
	if es := r(s.Audit(ctx(t), store.AuditQuery{Before: all[5].Seq, Limit: 2})).must(t); len(es) != 2 || es[0].Seq != all[6].Seq {
		t.Fatalf("Before #%d: %s", all[5].Seq, dump(es))
	}

	var carols, renamed7, obj []model.AuditEntry
	for _, e := range all {
		if e.Actor == "Carol" {
			carols = append(carols, e)
		}
		if strings.Contains(e.After, "key 7 (renamed)") {
			renamed7 = append(renamed7, e)
		}
		if e.Object == "key:"+ids[3] {
			obj = append(obj, e)
		}
	}
	same("Text carol (the actor, any case)", page(store.AuditQuery{Text: "cAROL"}, 2), carols)
	same("Text in after", page(store.AuditQuery{Text: "KEY 7 (RENAMED"}, 5), renamed7)
	same("Object, paged", page(store.AuditQuery{Object: "key:" + ids[3]}, 1), obj)
	same("Object and Text", page(store.AuditQuery{Object: "key:" + ids[3], Text: "rename"}, 1), obj[:1])
	same("Actor and Text", page(store.AuditQuery{Actor: "Carol", Text: "paged key 6"}, 1), []model.AuditEntry{carols[0], carols[1]})
	if es := r(s.Audit(ctx(t), store.AuditQuery{Text: "no such text"})).must(t); len(es) != 0 {
		t.Fatalf("Text matching nothing returned %s", dump(es))
	}
}

// waitEvent reads ch until an event satisfying match arrives.
func waitEvent(t *testing.T, ch <-chan store.Event, what string, match func(store.Event) bool) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("watch channel closed while waiting for %s", what)
			}
			if match(ev) {
				return
			}
		case <-timeout:
			t.Fatalf("no event for %s", what)
		}
	}
}

func testWatch(t *testing.T, s store.Store) {
	wctx, cancel := context.WithCancel(ctx(t))
	defer cancel()
	ch, err := s.Watch(wctx)
	if err != nil {
		t.Fatal(err)
	}
	ch2, err := s.Watch(wctx)
	if err != nil {
		t.Fatal(err)
	}
	isKey := func(id string) func(store.Event) bool {
		return func(ev store.Event) bool { return ev.Kind == store.EventKey && ev.ID == id }
	}
	isDomain := func(name string) func(store.Event) bool {
		return func(ev store.Event) bool { return ev.Kind == store.EventDomain && ev.ID == name }
	}
	c := ctx(t)
	k, _ := createKey(t, s, "watched")
	waitEvent(t, ch, "create", isKey(k.ID))
	waitEvent(t, ch2, "create (second watcher)", isKey(k.ID))
	r(s.RenameKey(c, k.ID, "watched 2")).must(t)
	waitEvent(t, ch, "rename", isKey(k.ID))
	r(s.DisableKey(c, k.ID)).must(t)
	waitEvent(t, ch, "disable", isKey(k.ID))
	r(s.EnableKey(c, k.ID)).must(t)
	waitEvent(t, ch, "enable", isKey(k.ID))
	addDomain(t, s, "mysite.tn")
	waitEvent(t, ch, "domain add", isDomain("mysite.tn"))
	r(s.LinkKey(c, k.ID, "mysite.tn")).must(t)
	waitEvent(t, ch, "link", isKey(k.ID))
	nk, _ := must2(t)(s.RotateKey(c, k.ID, 0))
	waitEvent(t, ch, "rotate (new key)", isKey(nk.ID))
	r(s.UnlinkKey(c, k.ID, "mysite.tn")).must(t)
	waitEvent(t, ch, "unlink", isKey(k.ID))
	r(s.DeleteDomain(c, "mysite.tn")).must(t)
	waitEvent(t, ch, "domain delete", isDomain("mysite.tn"))
	// A domain delete publishes an EventKey for every key it unlinks (the
	// gate reloads keys only on EventKey).
	addDomain(t, s, "gone.tn")
	r(s.LinkKey(c, nk.ID, "gone.tn")).must(t)
	waitEvent(t, ch, "link of the new key", isKey(nk.ID))
	r(s.DeleteDomain(c, "gone.tn")).must(t)
	waitEvent(t, ch, "domain delete unlinks the key", isKey(nk.ID))
	r(s.RevokeKey(c, k.ID, "watched 2")).must(t)
	waitEvent(t, ch, "revoke", isKey(k.ID))
	if err := s.RecordUsage(c, []store.UsageDelta{{KeyID: k.ID, Hour: time.Now().UTC().Truncate(time.Hour), Allowed: 1}}); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, ch, "usage", func(ev store.Event) bool { return ev.Kind == store.EventUsage })

	cancel()
	for _, c := range []<-chan store.Event{ch, ch2} {
		deadline := time.After(10 * time.Second)
	drain:
		for {
			select {
			case _, ok := <-c:
				if !ok {
					break drain
				}
			case <-deadline:
				t.Fatal("watch channel not closed after its context ended")
			}
		}
	}
}

func testUsage(t *testing.T, s store.Store) {
	c := ctx(t)
	a, _ := createKey(t, s, "a")
	b, _ := createKey(t, s, "b")
	h0 := time.Now().UTC().Truncate(time.Hour).Add(-72 * time.Hour)
	h1, h2 := h0.Add(time.Hour), h0.Add(2*time.Hour)
	n0 := auditLen(t, s)
	err := s.RecordUsage(c, []store.UsageDelta{
		{KeyID: a.ID, Hour: h0, Allowed: 5, Unauthorized: 1, Forbidden: 2,
			RefusedHosts: map[string]uint64{"evil.com": 2}, LastUsed: h0.Add(10 * time.Minute), LastHost: "mysite.tn"},
		{KeyID: a.ID, Hour: h1, Allowed: 3, Forbidden: 1,
			RefusedHosts: map[string]uint64{"evil.com": 1, "bad.net": 5}, LastUsed: h1.Add(5 * time.Minute), LastHost: "mysite.tn"},
		{KeyID: b.ID, Hour: h0, Allowed: 7, LastUsed: h0.Add(30 * time.Minute)},
		{KeyID: "", Hour: h0, Unauthorized: 4},
	})
	if err != nil {
		t.Fatal(err)
	}
	// A second batch merges into the same buckets; an older LastUsed does not
	// move the key's last use back.
	err = s.RecordUsage(c, []store.UsageDelta{{KeyID: a.ID, Hour: h0, Allowed: 1, LastUsed: h0.Add(20 * time.Minute)}})
	if err != nil {
		t.Fatal(err)
	}
	if n := auditLen(t, s); n != n0 {
		t.Fatalf("RecordUsage wrote %d audit entries", n-n0)
	}
	type row struct {
		h       time.Time
		a, u, f uint64
	}
	check := func(q store.UsageQuery, want ...row) {
		t.Helper()
		got := r(s.Usage(c, q)).must(t)
		if len(got) != len(want) {
			t.Fatalf("Usage(%+v) = %+v, want %d buckets", q, got, len(want))
		}
		for i, w := range want {
			g := got[i]
			if !g.Hour.Equal(w.h) || g.Allowed != w.a || g.Unauthorized != w.u || g.Forbidden != w.f {
				t.Fatalf("Usage(%+v)[%d] = %+v, want %+v", q, i, g, w)
			}
		}
	}
	check(store.UsageQuery{KeyID: a.ID, Since: h0, Until: h2}, row{h0, 6, 1, 2}, row{h1, 3, 0, 1})
	check(store.UsageQuery{KeyID: a.ID, Since: h0, Until: h1}, row{h0, 6, 1, 2})
	check(store.UsageQuery{KeyID: a.ID, Since: h1, Until: h2}, row{h1, 3, 0, 1})
	check(store.UsageQuery{KeyID: a.ID, Since: h0.Add(time.Minute), Until: h2}, row{h1, 3, 0, 1})
	check(store.UsageQuery{KeyID: a.ID, Since: h0}, row{h0, 6, 1, 2}, row{h1, 3, 0, 1}) // Until zero = now
	check(store.UsageQuery{KeyID: a.ID, Since: h2})
	check(store.UsageQuery{KeyID: b.ID, Since: h0.Add(-time.Hour)}, row{h0, 7, 0, 0})
	check(store.UsageQuery{Since: h0, Until: h2}, row{h0, 13, 5, 2}, row{h1, 3, 0, 1})
	check(store.UsageQuery{KeyID: "k000000000000", Since: h0})

	hosts := r(s.RefusedHosts(c, a.ID)).must(t)
	if len(hosts) != 2 || hosts[0].Host != "bad.net" || hosts[0].Count != 5 || hosts[1].Host != "evil.com" || hosts[1].Count != 3 {
		t.Fatalf("RefusedHosts = %+v, want bad.net 5, evil.com 3", hosts)
	}
	for _, h := range hosts {
		if h.LastSeen.Before(h0) || !h.LastSeen.Before(h2) {
			t.Fatalf("refused host %s last seen %v, want within the recorded hours", h.Host, h.LastSeen)
		}
	}
	if ev := hosts[1]; ev.LastSeen.Before(h1) {
		t.Fatalf("evil.com was last refused in hour %v, last seen says %v", h1, ev.LastSeen)
	}
	if hs := r(s.RefusedHosts(c, b.ID)).must(t); len(hs) != 0 {
		t.Fatalf("RefusedHosts(b) = %+v", hs)
	}
	if got := getKey(t, s, a.ID); !got.LastUsed.Equal(h1.Add(5 * time.Minute)) {
		t.Fatalf("a last used %v, want %v", got.LastUsed, h1.Add(5*time.Minute))
	}
	if got := getKey(t, s, b.ID); !got.LastUsed.Equal(h0.Add(30 * time.Minute)) {
		t.Fatalf("b last used %v", got.LastUsed)
	}
	// Usage of requests that named no known key is counted under "".
	if err := s.RecordUsage(c, []store.UsageDelta{{KeyID: "", Hour: h0, Forbidden: 1}}); err != nil {
		t.Fatal(err)
	}
	check(store.UsageQuery{Since: h0, Until: h1}, row{h0, 13, 5, 3})
	if err := s.RecordUsage(c, nil); err != nil {
		t.Fatalf("RecordUsage(nil): %v", err)
	}
}

// testConcurrency runs mixed operations from many goroutines, then checks
// the invariants: links symmetric, no dangling names, an audit entry for
// every change that succeeded.
func testConcurrency(t *testing.T, s store.Store) {
	const workers, ops = 8, 40
	c := ctx(t)
	var mu sync.Mutex
	var ids []string
	for i := range 6 {
		k, _ := createKey(t, s, fmt.Sprintf("seed %d", i))
		ids = append(ids, k.ID)
	}
	domains := []string{"d0.tn", "d1.tn", "d2.tn", "d3.tn", "d4.tn", "d5.tn", "d6.tn", "d7.tn"}
	for _, d := range domains[:5] {
		addDomain(t, s, d)
	}
	base := auditLen(t, s)
	var audited atomic.Int64 // successful operations that must have written an entry
	var created atomic.Int64 // keys created during the run

	wctx, cancel := context.WithCancel(c)
	defer cancel()
	events, err := s.Watch(wctx)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range events { // a slow or busy watcher never blocks the store
		}
	}()

	ok := func(err error) bool {
		switch {
		case err == nil:
			return true
		case errors.Is(err, model.ErrKeyRevoked), errors.Is(err, model.ErrAlreadyActive),
			errors.Is(err, model.ErrAlreadyDisabled), errors.Is(err, model.ErrConfirmMismatch),
			errors.Is(err, store.ErrDomainNotFound), errors.Is(err, store.ErrDomainExists):
			return false
		}
		t.Errorf("unexpected error: %v", err)
		return false
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			actx := store.WithActor(c, fmt.Sprintf("worker-%d", w))
			for i := range ops {
				mu.Lock()
				id := ids[rng.IntN(len(ids))]
				mu.Unlock()
				dom := domains[rng.IntN(len(domains))]
				switch rng.IntN(11) {
				case 0:
					k, _, err := s.CreateKey(actx, fmt.Sprintf("w%d-%d", w, i), model.Policy{})
					if ok(err) {
						audited.Add(1)
						created.Add(1)
						mu.Lock()
						ids = append(ids, k.ID)
						mu.Unlock()
					}
				case 1:
					if _, err := s.RenameKey(actx, id, fmt.Sprintf("renamed w%d-%d", w, i)); ok(err) {
						audited.Add(1)
					}
				case 2:
					if _, err := s.DisableKey(actx, id); ok(err) {
						audited.Add(1)
					}
				case 3:
					if _, err := s.EnableKey(actx, id); ok(err) {
						audited.Add(1)
					}
				case 4:
					if k, err := s.Key(actx, id); ok(err) && rng.IntN(3) == 0 {
						if _, err := s.RevokeKey(actx, id, k.Name); ok(err) {
							audited.Add(1)
						}
					}
				case 5:
					k, _, err := s.RotateKey(actx, id, 0)
					if ok(err) {
						audited.Add(1)
						created.Add(1)
						mu.Lock()
						ids = append(ids, k.ID)
						mu.Unlock()
					}
				case 6, 7:
					ok2 := domains[rng.IntN(len(domains))]
					_, err := s.LinkKey(actx, id, dom, ok2)
					ok(err)
				case 8:
					_, err := s.UnlinkKey(actx, id, dom)
					ok(err)
				case 9:
					if _, err := s.AddDomain(actx, dom); ok(err) {
						audited.Add(1)
					}
				case 10:
					if _, err := s.DeleteDomain(actx, dom); ok(err) {
						audited.Add(1)
					}
				}
				if i%10 == 0 {
					if _, err := s.Keys(actx); err != nil {
						t.Errorf("Keys during the run: %v", err)
					}
					if err := s.RecordUsage(actx, []store.UsageDelta{{KeyID: id, Hour: time.Now().UTC().Truncate(time.Hour), Allowed: 1}}); err != nil {
						t.Errorf("RecordUsage during the run: %v", err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	checkLinks(t, s)
	keys := r(s.Keys(c)).must(t)
	if want := 6 + int(created.Load()); len(keys) != want {
		t.Fatalf("%d keys after the run, want %d", len(keys), want)
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k.ID] {
			t.Fatalf("key %s listed twice", k.ID)
		}
		seen[k.ID] = true
		if !k.Status.Valid() {
			t.Fatalf("key %s has status %q", k.ID, k.Status)
		}
		sameKey(t, k, getKey(t, s, k.ID), "Keys() entry versus Key(id) after the run")
	}
	for _, k := range keys {
		if k.Replaces != "" && !seen[k.Replaces] {
			t.Fatalf("key %s replaces unknown key %s", k.ID, k.Replaces)
		}
	}
	if n := auditLen(t, s) - base; int64(n) < audited.Load() {
		t.Fatalf("%d audit entries for %d successful changes", n, audited.Load())
	}
	var total uint64
	for _, b := range r(s.Usage(c, store.UsageQuery{Since: time.Now().Add(-2 * time.Hour)})).must(t) {
		total += b.Allowed
	}
	if want := uint64(workers * ((ops + 9) / 10)); total != want {
		t.Fatalf("usage total %d, want %d", total, want)
	}
}

func testClose(t *testing.T, s store.Store) {
	k, _ := createKey(t, s, "k")
	wctx, cancel := context.WithCancel(ctx(t))
	defer cancel()
	ch, err := s.Watch(wctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	c := ctx(t)
	_, err = s.Key(c, k.ID)
	wantErr(t, err, store.ErrClosed, "Key after Close")
	_, err = s.Keys(c)
	wantErr(t, err, store.ErrClosed, "Keys after Close")
	_, _, err = s.CreateKey(c, "late", model.Policy{})
	wantErr(t, err, store.ErrClosed, "CreateKey after Close")
	_, err = s.AddDomain(c, "late.tn")
	wantErr(t, err, store.ErrClosed, "AddDomain after Close")
	_, err = s.Watch(c)
	wantErr(t, err, store.ErrClosed, "Watch after Close")
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("Close did not close the Watch channel")
		}
	}
}

// usageState is what usage reads show for key id around hour h.
func usageState(t *testing.T, s store.Store, id string, h time.Time) string {
	t.Helper()
	c := ctx(t)
	b, err := json.Marshal(struct {
		Key, Total []store.UsageBucket
		Hosts      []store.RefusedHost
	}{
		r(s.Usage(c, store.UsageQuery{KeyID: id, Since: h.Add(-time.Hour), Until: h.Add(2 * time.Hour)})).must(t),
		r(s.Usage(c, store.UsageQuery{Since: h.Add(-time.Hour), Until: h.Add(2 * time.Hour)})).must(t),
		r(s.RefusedHosts(c, id)).must(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// testUsageRefusesBadInput: RecordUsage refuses, all or nothing and with
// store.ErrInvalid, what no gate sends: counters that would wrap past
// 2^64−1, unknown key ids, hours far outside now, and hosts with control,
// bidi, invisible or non-ASCII characters.
func testUsageRefusesBadInput(t *testing.T, s store.Store) {
	c := ctx(t)
	k, _ := createKey(t, s, "counted")
	h := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	const max = ^uint64(0)
	if err := s.RecordUsage(c, []store.UsageDelta{{KeyID: k.ID, Hour: h, Allowed: max - 1,
		RefusedHosts: map[string]uint64{"evil.com": max}}}); err != nil {
		t.Fatal(err)
	}
	before, keys := usageState(t, s, k.ID, h), snapshot(t, s)
	good := store.UsageDelta{KeyID: k.ID, Hour: h, Unauthorized: 1}
	for _, tc := range []struct {
		what string
		d    store.UsageDelta
	}{
		{"allowed wraps", store.UsageDelta{KeyID: k.ID, Hour: h, Allowed: 2}},
		{"total wraps", store.UsageDelta{KeyID: "", Hour: h, Allowed: 2}},
		{"refused host count wraps", store.UsageDelta{KeyID: k.ID, Hour: h, RefusedHosts: map[string]uint64{"evil.com": 1}}},
		{"unknown key id", store.UsageDelta{KeyID: "k000000000000", Hour: h, Forbidden: 1}},
		{"year 9999", store.UsageDelta{KeyID: k.ID, Hour: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), Forbidden: 1}},
		{"zero hour", store.UsageDelta{KeyID: k.ID, Forbidden: 1}},
		{"older than the daily retention", store.UsageDelta{KeyID: k.ID, Hour: h.Add(-store.DailyRetention - 48*time.Hour), Forbidden: 1}},
		{"last used in year 9999", store.UsageDelta{KeyID: k.ID, Hour: h, Forbidden: 1, LastUsed: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"host with ESC", store.UsageDelta{KeyID: k.ID, Hour: h, RefusedHosts: map[string]uint64{"a\x1b[2Jb.com": 1}}},
		{"host with a newline", store.UsageDelta{KeyID: k.ID, Hour: h, RefusedHosts: map[string]uint64{"a\nb.com": 1}}},
		{"host with bidi", store.UsageDelta{KeyID: k.ID, Hour: h, RefusedHosts: map[string]uint64{"a\u202eb.com": 1}}},
		{"host with U+200B", store.UsageDelta{KeyID: k.ID, Hour: h, RefusedHosts: map[string]uint64{"a\u200bb.com": 1}}},
		{"host with invalid UTF-8", store.UsageDelta{KeyID: k.ID, Hour: h, RefusedHosts: map[string]uint64{"a\xffb.com": 1}}},
		{"host too long", store.UsageDelta{KeyID: k.ID, Hour: h, RefusedHosts: map[string]uint64{strings.Repeat("a", 254): 1}}},
		{"empty host", store.UsageDelta{KeyID: k.ID, Hour: h, RefusedHosts: map[string]uint64{"": 1}}},
		{"matched host with ESC", store.UsageDelta{KeyID: k.ID, Hour: h, MatchedHosts: map[string]uint64{"a\x1bb.com": 1}}},
		{"last host with bidi", store.UsageDelta{KeyID: k.ID, Hour: h, Forbidden: 1, LastUsed: h, LastHost: "a\u202eb.com"}},
	} {
		// The bad delta comes after a good one: nothing of the batch is kept.
		err := s.RecordUsage(c, []store.UsageDelta{good, tc.d})
		wantErr(t, err, store.ErrInvalid, tc.what)
		if strings.ContainsAny(err.Error(), "\x1b\n\u202e\u200b") {
			t.Fatalf("%s: the error %q carries the raw character", tc.what, err)
		}
		if after := usageState(t, s, k.ID, h); after != before {
			t.Fatalf("%s changed usage:\nbefore %s\nafter  %s", tc.what, before, after)
		}
		unchanged(t, s, keys, tc.what)
	}
	// Two deltas of one batch that wrap together are refused too.
	k2, _ := createKey(t, s, "second")
	err := s.RecordUsage(c, []store.UsageDelta{{KeyID: k2.ID, Hour: h, Forbidden: max}, {KeyID: k2.ID, Hour: h, Forbidden: 1}})
	wantErr(t, err, store.ErrInvalid, "a batch that wraps")
}

// testRevisions checks the store.Revisioner contract on stores that have
// revisions: every change has a greater revision than the ones before it,
// its events carry it in order and mark the last one, and Revision is at
// least the revision of every change that returned.
func testRevisions(t *testing.T, s store.Store) {
	rv, ok := s.(store.Revisioner)
	if !ok {
		t.Log("this store has no revisions (store.Revisioner): gate.Sync promises nothing over it")
		return
	}
	wctx, cancel := context.WithCancel(ctx(t))
	defer cancel()
	ch, err := s.Watch(wctx)
	if err != nil {
		t.Fatal(err)
	}
	c := ctx(t)
	r0 := r(rv.Revision(c)).must(t)
	a, _ := createKey(t, s, "a")
	b, _ := createKey(t, s, "b")
	addDomain(t, s, "mysite.tn")
	r(s.LinkKey(c, a.ID, "mysite.tn")).must(t)
	r(s.LinkKey(c, b.ID, "mysite.tn")).must(t)
	r(s.DeleteDomain(c, "mysite.tn")).must(t) // one change, three events
	if err := s.RecordUsage(c, []store.UsageDelta{{KeyID: a.ID, Hour: time.Now().UTC().Truncate(time.Hour), Allowed: 1}}); err != nil {
		t.Fatal(err)
	}
	last := r(rv.Revision(c)).must(t)
	const changes = 7
	if last < r0+changes {
		t.Fatalf("Revision went from %d to %d over %d changes", r0, last, changes)
	}
	// Read the events of the seven changes: revisions never go back, each
	// change ends with one RevEnd, and the last change ends at Revision.
	prev, prevEnd, ends := r0, true, 0
	var keysOfDelete []string
	deadline := time.After(10 * time.Second)
	for ends < changes {
		select {
		case ev := <-ch:
			switch {
			case ev.Kind == store.EventResync:
				t.Fatal("resync on a quiet store")
			case ev.Rev <= r0 || ev.Rev < prev:
				t.Fatalf("event %+v after revision %d", ev, prev)
			case ev.Rev == prev && prevEnd:
				t.Fatalf("event %+v after the end of its revision", ev)
			case ev.Rev > prev && !prevEnd:
				t.Fatalf("revision %d ended without RevEnd", prev)
			}
			prev, prevEnd = ev.Rev, ev.RevEnd
			if ends == 5 && ev.Kind == store.EventKey {
				keysOfDelete = append(keysOfDelete, ev.ID)
			}
			if ev.RevEnd {
				ends++
			}
		case <-deadline:
			t.Fatalf("only %d changes ended with RevEnd", ends)
		}
	}
	if prev != last {
		t.Fatalf("the last change has revision %d, Revision says %d", prev, last)
	}
	slices.Sort(keysOfDelete)
	if !slices.Equal(keysOfDelete, sorted(a.ID, b.ID)) {
		t.Fatalf("the domain delete published key events for %v, want %v", keysOfDelete, sorted(a.ID, b.ID))
	}
}

// testRefusedHostsBound: per key and UTC day at most
// store.MaxRefusedHostsPerDay hosts are kept; refusals of further hosts,
// and the gate's OtherHosts, add to one Other entry; hosts already kept go
// on counting; another day has its own bound.
func testRefusedHostsBound(t *testing.T, s store.Store) {
	c := ctx(t)
	k, _ := createKey(t, s, "flooded")
	h := time.Now().UTC().Truncate(time.Hour)
	if h.Hour() == 0 {
		h = h.Add(time.Hour) // keep both hours in one UTC day
	}
	hosts := func(from, to int) map[string]uint64 {
		m := map[string]uint64{}
		for i := from; i < to; i++ {
			m[fmt.Sprintf("h%03d.evil.tn", i)] = 1
		}
		return m
	}
	must := func(ds ...store.UsageDelta) {
		t.Helper()
		if err := s.RecordUsage(c, ds); err != nil {
			t.Fatal(err)
		}
	}
	must(store.UsageDelta{KeyID: k.ID, Hour: h.Add(-time.Hour), Forbidden: 100, RefusedHosts: hosts(0, store.MaxRefusedHostsPerDay)})
	more := hosts(store.MaxRefusedHostsPerDay, store.MaxRefusedHostsPerDay+50)
	more["h000.evil.tn"] = 3 // kept: counts on
	must(store.UsageDelta{KeyID: k.ID, Hour: h, Forbidden: 53, RefusedHosts: more, OtherHosts: 7})
	got := r(s.RefusedHosts(c, k.ID)).must(t)
	if len(got) != store.MaxRefusedHostsPerDay+1 {
		t.Fatalf("%d refused-host entries, want %d named and one other", len(got), store.MaxRefusedHostsPerDay)
	}
	var sum uint64
	for i, e := range got {
		sum += e.Count
		if i < len(got)-1 && (e.Other || e.Host == "") {
			t.Fatalf("entry %d is %+v, want a named host (Other comes last)", i, e)
		}
	}
	if first, last := got[0], got[len(got)-1]; first.Host != "h000.evil.tn" || first.Count != 4 || !last.Other || last.Host != "" || last.Count != 57 {
		t.Fatalf("first %+v, last %+v; want h000.evil.tn 4 and the other hosts 57 (50 past the bound + 7)", first, last)
	}
	if sum != 160 {
		t.Fatalf("the entries sum to %d refusals, want 160", sum)
	}
	// Another day has its own bound.
	must(store.UsageDelta{KeyID: k.ID, Hour: h.Add(-24 * time.Hour), Forbidden: 5, RefusedHosts: hosts(500, 505)})
	if got := r(s.RefusedHosts(c, k.ID)).must(t); len(got) != store.MaxRefusedHostsPerDay+6 {
		t.Fatalf("%d entries after 5 hosts on another day, want %d", len(got), store.MaxRefusedHostsPerDay+6)
	}
}

// testMaintainUsage: hourly buckets of days older than HourlyRetention roll
// up into daily buckets (Usage returns them with Daily set, at the day's
// start), daily buckets and refused hosts older than DailyRetention go, and
// a second run changes nothing. "now" is given to MaintainUsage, so no
// clock is needed.
func testMaintainUsage(t *testing.T, s store.Store) {
	m, ok := s.(store.UsageMaintainer)
	if !ok {
		t.Log("this store keeps no usage of its own to maintain (store.UsageMaintainer)")
		return
	}
	c := ctx(t)
	k, _ := createKey(t, s, "old traffic")
	now := time.Now().UTC()
	today := now.Truncate(24 * time.Hour)
	old := today.Add(-100 * 24 * time.Hour)   // rolled up now, pruned 305 days later
	recent := today.Add(-10 * 24 * time.Hour) // hourly now, rolled up 305 days later
	var ds []store.UsageDelta
	for _, day := range []time.Time{old, recent} {
		for _, hr := range []int{1, 13, 23} {
			ds = append(ds, store.UsageDelta{KeyID: k.ID, Hour: day.Add(time.Duration(hr) * time.Hour),
				Allowed: 10, Unauthorized: 2, Forbidden: 1, RefusedHosts: map[string]uint64{"x" + day.Format("0102") + ".tn": 1}})
		}
	}
	if err := s.RecordUsage(c, ds); err != nil {
		t.Fatal(err)
	}
	rep := r(m.MaintainUsage(c, now)).must(t)
	if rep.RolledUpDays != 2 || rep.PrunedRecords != 0 {
		t.Fatalf("MaintainUsage = %+v, want the old day rolled up (key and total)", rep)
	}
	for _, q := range []store.UsageQuery{{KeyID: k.ID, Since: old.Add(-time.Hour)}, {Since: old.Add(-time.Hour)}} {
		u := r(s.Usage(c, q)).must(t)
		if len(u) != 4 || !u[0].Daily || !u[0].Hour.Equal(old) || u[0].Allowed != 30 || u[0].Unauthorized != 6 || u[0].Forbidden != 3 {
			t.Fatalf("Usage(%+v) = %+v, want the old day as one daily bucket, then 3 hours", q, u)
		}
		for _, b := range u[1:] {
			if b.Daily || b.Allowed != 10 || b.Hour.Before(recent) {
				t.Fatalf("Usage(%+v): %+v, want the recent hours", q, b)
			}
		}
	}
	// A query inside the rolled-up day still gets its daily bucket; one
	// that ends before the day does not.
	if u := r(s.Usage(c, store.UsageQuery{KeyID: k.ID, Since: old.Add(12 * time.Hour), Until: old.Add(13 * time.Hour)})).must(t); len(u) != 1 || !u[0].Daily {
		t.Fatalf("Usage within the old day = %+v", u)
	}
	if u := r(s.Usage(c, store.UsageQuery{KeyID: k.ID, Since: old.Add(-48 * time.Hour), Until: old})).must(t); len(u) != 0 {
		t.Fatalf("Usage before the old day = %+v", u)
	}
	if rep := r(m.MaintainUsage(c, now)).must(t); rep != (store.UsageMaintenance{}) {
		t.Fatalf("a second MaintainUsage did %+v", rep)
	}
	later := now.Add(305 * 24 * time.Hour)
	rep = r(m.MaintainUsage(c, later)).must(t)
	if rep.RolledUpDays != 2 || rep.PrunedRecords != 3 {
		t.Fatalf("MaintainUsage 305 days later = %+v, want the recent day rolled up and the old day's daily buckets (key, total) and refused host pruned", rep)
	}
	u := r(s.Usage(c, store.UsageQuery{KeyID: k.ID, Since: old.Add(-time.Hour), Until: later})).must(t)
	if len(u) != 1 || !u[0].Daily || !u[0].Hour.Equal(recent) || u[0].Allowed != 30 {
		t.Fatalf("Usage 305 days later = %+v, want only the recent day, daily", u)
	}
	hs := r(s.RefusedHosts(c, k.ID)).must(t)
	if len(hs) != 1 || hs[0].Host != "x"+recent.Format("0102")+".tn" || hs[0].Count != 3 {
		t.Fatalf("refused hosts 305 days later = %+v, want only the recent day's", hs)
	}
}
