package storetest

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// policyTests are the conformance tests of key policies (SPEC.md "Key
// policies"), run by Run.
var policyTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"CreateWithPolicy", testCreateWithPolicy},
	{"CreateInvalidPolicy", testCreateInvalidPolicy},
	{"UpdateKey", testUpdateKey},
	{"UpdateKeyInvalid", testUpdateKeyInvalid},
	{"RotateGrace", testRotateGrace},
	{"UsageLimited", testUsageLimited},
}

// fullPolicy sets every policy field.
func fullPolicy() model.Policy {
	return model.Policy{
		Kind:    model.KindServer,
		Expires: time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Millisecond),
		AllowIPs: []netip.Prefix{netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("203.0.113.7/32"),
			netip.MustParsePrefix("10.0.0.0/8")},
		Rate: 12.5, Burst: 40, Quota: 1_000_000,
		Owner: "  Équipe cartes ", Note: "backend of the tile server",
	}
}

func samePolicy(t *testing.T, got, want model.Policy, what string) {
	t.Helper()
	if got.Kind != want.Kind || !got.Expires.Equal(want.Expires) || !slices.Equal(got.AllowIPs, want.AllowIPs) ||
		got.Rate != want.Rate || got.Burst != want.Burst || got.Quota != want.Quota || got.Owner != want.Owner || got.Note != want.Note {
		t.Fatalf("%s: policy\n got %+v\nwant %+v", what, got, want)
	}
}

func testCreateWithPolicy(t *testing.T, s store.Store) {
	c := ctx(t)
	p := fullPolicy()
	k, secret, err := s.CreateKey(c, "tiles backend", p)
	if err != nil {
		t.Fatal(err)
	}
	want, err := model.NormalizePolicy(p)
	if err != nil {
		t.Fatal(err)
	}
	if want.Owner != "Équipe cartes" || want.AllowIPs[0].String() != "10.0.0.0/8" {
		t.Fatalf("NormalizePolicy = %+v", want)
	}
	samePolicy(t, k.Policy, want, "CreateKey's answer")
	samePolicy(t, getKey(t, s, k.ID).Policy, want, "Key")
	samePolicy(t, r(s.KeyByDigest(c, model.DigestOf(secret))).must(t).Policy, want, "KeyByDigest")
	keys := r(s.Keys(c)).must(t)
	if len(keys) != 1 {
		t.Fatalf("Keys = %d keys", len(keys))
	}
	samePolicy(t, keys[0].Policy, want, "Keys")
	// A key without a policy has the zero policy.
	plain, _ := createKey(t, s, "plain")
	samePolicy(t, getKey(t, s, plain.ID).Policy, model.Policy{}, "a key created without a policy")
	// Audit: create, then one entry per policy field set.
	es := r(s.Audit(c, store.AuditQuery{Object: "key:" + k.ID})).must(t)
	var actions []string
	for i := len(es) - 1; i >= 0; i-- {
		actions = append(actions, es[i].Action)
	}
	wantActions := []string{model.AuditCreate, model.AuditKind, model.AuditExpires, model.AuditAllowIPs, model.AuditRate,
		model.AuditQuota, model.AuditOwner, model.AuditNote}
	if !slices.Equal(actions, wantActions) {
		t.Fatalf("audit of a create with a policy = %v; want %v%s", actions, wantActions, dump(es))
	}
	for _, e := range es {
		if e.Action == model.AuditAllowIPs && (e.Before != "" || e.After != "10.0.0.0/8, 203.0.113.7, 2001:db8::/32") {
			t.Fatalf("allow_ips entry %q → %q", e.Before, e.After)
		}
		if e.Action == model.AuditRate && e.After != "12.5/s, burst 40" {
			t.Fatalf("rate entry after %q", e.After)
		}
	}
}

// wantField fails unless err is ErrInvalid with a *model.FieldError naming field.
func wantField(t *testing.T, err error, field, what string) {
	t.Helper()
	var fe *model.FieldError
	if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &fe) || fe.Field != field {
		t.Fatalf("%s: error %v (%T); want ErrInvalid naming the field %q", what, err, err, field)
	}
	if !strings.Contains(err.Error(), field) {
		t.Fatalf("%s: message %q does not name the field %q", what, err, field)
	}
}

func testCreateInvalidPolicy(t *testing.T, s store.Store) {
	c := ctx(t)
	createKey(t, s, "existing")
	before := snapshot(t, s)
	for _, tc := range []struct {
		p     model.Policy
		field string
	}{
		{model.Policy{Kind: "desktop"}, "kind"},
		{model.Policy{Rate: -2}, "rate"},
		{model.Policy{Burst: 3}, "burst"},
		{model.Policy{Owner: "a\u202eb"}, "owner"},
		{model.Policy{Note: "x\x00y"}, "note"},
		{model.Policy{Note: strings.Repeat("n", model.MaxNoteLen+1)}, "note"},
		{model.Policy{AllowIPs: []netip.Prefix{netip.PrefixFrom(netip.MustParseAddr("10.1.2.3"), 8)}}, "allow_ips"},
	} {
		_, _, err := s.CreateKey(c, "bad policy", tc.p)
		wantField(t, err, tc.field, "CreateKey with a bad "+tc.field)
	}
	unchanged(t, s, before, "CreateKey with bad policies")
}

func testUpdateKey(t *testing.T, s store.Store) {
	c := ctx(t)
	bob := store.WithActor(c, "bob")
	k, _ := createKey(t, s, "web")
	ch, err := s.Watch(c)
	if err != nil {
		t.Fatal(err)
	}
	n0 := auditLen(t, s)
	exp := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
	kind, name, owner := model.KindBrowser, "web app", "ana"
	rate, quota := 50.0, uint64(5000)
	ips := []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
	got, err := s.UpdateKey(bob, k.ID, model.KeyUpdate{Name: &name, Kind: &kind, Expires: &exp, AllowIPs: &ips, Rate: &rate, Quota: &quota, Owner: &owner})
	if err != nil {
		t.Fatal(err)
	}
	want := model.Policy{Kind: kind, Expires: exp, AllowIPs: ips, Rate: 50, Burst: 50, Quota: 5000, Owner: "ana"}
	samePolicy(t, got.Policy, want, "UpdateKey's answer")
	samePolicy(t, getKey(t, s, k.ID).Policy, want, "Key after UpdateKey")
	if got.Name != "web app" || getKey(t, s, k.ID).Name != "web app" {
		t.Fatalf("name after UpdateKey = %q", got.Name)
	}
	waitEvent(t, ch, "update", func(ev store.Event) bool { return ev.Kind == store.EventKey && ev.ID == k.ID })
	es := r(s.Audit(c, store.AuditQuery{Object: "key:" + k.ID, Since: time.Time{}})).must(t)
	if n := auditLen(t, s) - n0; n != 7 {
		t.Fatalf("UpdateKey of a name and 6 policy fields wrote %d audit entries; want 7%s", n, dump(es))
	}
	byAction := map[string]model.AuditEntry{}
	for _, e := range es {
		if _, seen := byAction[e.Action]; !seen {
			byAction[e.Action] = e
		}
	}
	for action, ba := range map[string][2]string{
		model.AuditRename:   {"web", "web app"},
		model.AuditKind:     {"", "browser"},
		model.AuditExpires:  {"", exp.Format(time.RFC3339Nano)},
		model.AuditAllowIPs: {"", "198.51.100.0/24"},
		model.AuditRate:     {"", "50/s, burst 50"},
		model.AuditQuota:    {"", "5000/month"},
		model.AuditOwner:    {"", "ana"},
	} {
		e, ok := byAction[action]
		if !ok || e.Before != ba[0] || e.After != ba[1] || e.Actor != "bob" {
			t.Fatalf("audit entry %s = %+v; want %q → %q by bob%s", action, e, ba[0], ba[1], dump(es))
		}
	}
	// The same values again: nothing written.
	n1 := auditLen(t, s)
	if _, err := s.UpdateKey(c, k.ID, model.KeyUpdate{Kind: &kind, Owner: &owner, Quota: &quota}); err != nil {
		t.Fatal(err)
	}
	if n := auditLen(t, s); n != n1 {
		t.Fatalf("an update to the same values wrote %d audit entries", n-n1)
	}
	// Clearing: zero values remove the limits.
	var never time.Time
	zero, noQuota, none, empty := 0.0, uint64(0), []netip.Prefix{}, ""
	got = r(s.UpdateKey(c, k.ID, model.KeyUpdate{Expires: &never, Rate: &zero, Quota: &noQuota, AllowIPs: &none, Owner: &empty})).must(t)
	samePolicy(t, got.Policy, model.Policy{Kind: kind}, "after clearing")
	samePolicy(t, getKey(t, s, k.ID).Policy, model.Policy{Kind: kind}, "Key after clearing")
	if es := r(s.Audit(c, store.AuditQuery{Object: "key:" + k.ID, Limit: 1})).must(t); es[0].After != "" || es[0].Before == "" {
		t.Fatalf("clearing entry %+v: want a before and an empty after", es[0])
	}
	// A disabled key takes policy changes; a revoked one none.
	r(s.DisableKey(c, k.ID)).must(t)
	r(s.UpdateKey(c, k.ID, model.KeyUpdate{Expires: &exp})).must(t)
	r(s.RevokeKey(c, k.ID, "web app")).must(t)
	before := snapshot(t, s)
	_, err = s.UpdateKey(c, k.ID, model.KeyUpdate{Expires: &never})
	wantErr(t, err, model.ErrKeyRevoked, "UpdateKey on a revoked key")
	unchanged(t, s, before, "UpdateKey on a revoked key")
	_, err = s.UpdateKey(c, "k000000000000", model.KeyUpdate{Owner: &owner})
	wantErr(t, err, store.ErrKeyNotFound, "UpdateKey of an unknown key")
}

func testUpdateKeyInvalid(t *testing.T, s store.Store) {
	c := ctx(t)
	k, _, err := s.CreateKey(c, "server", model.Policy{Kind: model.KindServer, Rate: 5})
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, s)
	var burst uint32 = model.MaxBurst + 1
	bad, empty, zero := model.Kind("robot"), "", 0.0
	long := strings.Repeat("o", model.MaxOwnerLen+1)
	for _, tc := range []struct {
		u     model.KeyUpdate
		field string
	}{
		{model.KeyUpdate{Kind: &bad}, "kind"},
		{model.KeyUpdate{Burst: &burst}, "burst"},
		{model.KeyUpdate{Rate: &zero, Burst: func() *uint32 { b := uint32(4); return &b }()}, "burst"},
		{model.KeyUpdate{Owner: &long}, "owner"},
		{model.KeyUpdate{Name: &empty}, "name"},
		// All or nothing: a good owner with a bad kind changes nothing.
		{model.KeyUpdate{Owner: func() *string { s := "ok"; return &s }(), Kind: &bad}, "kind"},
	} {
		_, err := s.UpdateKey(c, k.ID, tc.u)
		wantField(t, err, tc.field, "UpdateKey with a bad "+tc.field)
	}
	unchanged(t, s, before, "UpdateKey with bad fields")
}

func testRotateGrace(t *testing.T, s store.Store) {
	c := ctx(t)
	p := fullPolicy()
	p.Expires = time.Time{}
	old, _, err := s.CreateKey(c, "rotated", p)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	nk, _, err := s.RotateKey(c, old.ID, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	gotOld := getKey(t, s, old.ID)
	if lo, hi := start.Add(24*time.Hour-time.Second), time.Now().Add(24*time.Hour+time.Second); gotOld.Expires.Before(lo) || gotOld.Expires.After(hi) {
		t.Fatalf("old key expires %v; want 24 h after the rotation (%v)", gotOld.Expires, start.Add(24*time.Hour))
	}
	if gotOld.Status != model.Active {
		t.Fatalf("the old key is %s during its grace", gotOld.Status)
	}
	// The new key inherits the policy, never the expiry.
	want, _ := model.NormalizePolicy(p)
	samePolicy(t, nk.Policy, want, "the new key's policy")
	samePolicy(t, getKey(t, s, nk.ID).Policy, want, "the new key's stored policy")
	es := r(s.Audit(c, store.AuditQuery{Object: "key:" + old.ID, Limit: 2})).must(t)
	if len(es) != 2 || es[0].Action != model.AuditExpires || es[0].Before != "" || es[0].After == "" || es[1].Action != model.AuditRotate {
		t.Fatalf("audit of a rotation with grace: %s", dump(es))
	}
	// A key that expires sooner than the grace keeps its expiry.
	soon := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	k2, _, err := s.CreateKey(c, "soon", model.Policy{Expires: soon})
	if err != nil {
		t.Fatal(err)
	}
	must2(t)(s.RotateKey(c, k2.ID, 48*time.Hour))
	if got := getKey(t, s, k2.ID).Expires; !got.Equal(soon) {
		t.Fatalf("rotation with a longer grace moved the expiry from %v to %v", soon, got)
	}
	// Without a grace the old key's expiry does not change.
	k3, _ := createKey(t, s, "no grace")
	must2(t)(s.RotateKey(c, k3.ID, 0))
	if got := getKey(t, s, k3.ID).Expires; !got.IsZero() {
		t.Fatalf("rotation without grace set an expiry %v", got)
	}
	before := snapshot(t, s)
	_, _, err = s.RotateKey(c, k3.ID, -time.Hour)
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("negative grace: %v; want ErrInvalid", err)
	}
	unchanged(t, s, before, "a rotation with a negative grace")
}

func testUsageLimited(t *testing.T, s store.Store) {
	c := ctx(t)
	a, _ := createKey(t, s, "limited")
	h0 := time.Now().UTC().Truncate(time.Hour).Add(-5 * time.Hour)
	h1 := h0.Add(time.Hour)
	err := s.RecordUsage(c, []store.UsageDelta{
		{KeyID: a.ID, Hour: h0, Allowed: 10, Limited: 7},
		{KeyID: a.ID, Hour: h1, Limited: 3}, // an hour with nothing but 429s
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RecordUsage(c, []store.UsageDelta{{KeyID: a.ID, Hour: h0, Limited: 1, Forbidden: 2}}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []store.UsageQuery{{KeyID: a.ID, Since: h0}, {Since: h0}} {
		got := r(s.Usage(c, q)).must(t)
		if len(got) != 2 || got[0].Allowed != 10 || got[0].Limited != 8 || got[0].Forbidden != 2 ||
			!got[1].Hour.Equal(h1) || got[1].Limited != 3 || got[1].Allowed != 0 {
			t.Fatalf("Usage(%+v) = %+v; want 429s counted on their own (8 then 3)", q, got)
		}
		sum := model.Sum(store.Buckets(got))
		if sum.Limited != 11 || sum.Total() != 23 {
			t.Fatalf("summed counts %+v", sum)
		}
	}
}
