package model

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParseIPPrefix(t *testing.T) {
	tests := []struct {
		in, want string // want "" means an error
		errHas   string
	}{
		{"203.0.113.7", "203.0.113.7/32", ""},
		{" 10.0.0.0/8 ", "10.0.0.0/8", ""},
		{"2001:db8::1", "2001:db8::1/128", ""},
		{"2001:DB8::/32", "2001:db8::/32", ""},
		{"0.0.0.0/0", "0.0.0.0/0", ""},
		{"::/0", "::/0", ""},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8", ""},
		{"::ffff:192.0.2.1", "192.0.2.1/32", ""},
		{"10.1.2.3/8", "", "use 10.0.0.0/8 for the whole range or 10.1.2.3 for one address"},
		{"2001:db8::1/32", "", "use 2001:db8::/32"},
		{"fe80::1%eth0", "", "zone"},
		{"", "", "empty entry"},
		{"mysite.tn", "", "not an IP address"},
		{"10.0.0.0/33", "", "not a CIDR range"},
		{"10.0.0/8", "", "not a CIDR range"},
		{"010.0.0.1", "", "not an IP address"},
		{"10.0.0.1/", "", "not a CIDR range"},
		{"1.2.3.4\x00", "", "not an IP address"},
	}
	for _, tt := range tests {
		p, err := ParseIPPrefix(tt.in)
		switch {
		case tt.want != "" && (err != nil || p.String() != tt.want):
			t.Errorf("ParseIPPrefix(%q) = %v, %v; want %s", tt.in, p, err, tt.want)
		case tt.want == "" && (err == nil || !strings.Contains(err.Error(), tt.errHas)):
			t.Errorf("ParseIPPrefix(%q) error = %v; want one saying %q", tt.in, err, tt.errHas)
		}
	}
}

func TestParseAllowIPs(t *testing.T) {
	got, err := ParseAllowIPs([]string{"2001:db8::/32", "203.0.113.7", "10.0.0.0/8", "203.0.113.7/32"})
	if err != nil {
		t.Fatal(err)
	}
	if s := FormatAllowIPs(got); s != "10.0.0.0/8, 203.0.113.7, 2001:db8::/32" {
		t.Fatalf("sorted, deduplicated list = %s", s)
	}
	if got, err := ParseAllowIPs(nil); err != nil || got != nil || FormatAllowIPs(got) != "any address" {
		t.Fatalf("empty list = %v, %v", got, err)
	}
	many := make([]string, MaxAllowIPs+1)
	for i := range many {
		many[i] = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String()
	}
	if _, err := ParseAllowIPs(many); err == nil || !strings.Contains(err.Error(), "at most 100") {
		t.Fatalf("%d entries: %v", len(many), err)
	}
}

func TestNormalizePolicy(t *testing.T) {
	exp := time.Date(2026, 5, 1, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	p, err := NormalizePolicy(Policy{Kind: KindServer, Expires: exp, Rate: 2.5, Owner: "  Team maps ", Note: "office only",
		AllowIPs: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("::ffff:10.0.0.0/104")}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Burst != 3 || p.Owner != "Team maps" || p.Expires.Location() != time.UTC || !p.Expires.Equal(exp) ||
		FormatAllowIPs(p.AllowIPs) != "10.0.0.0/8, 198.51.100.0/24" {
		t.Fatalf("normalised = %+v", p)
	}
	for _, c := range []struct {
		p     Policy
		field string
	}{
		{Policy{Kind: "robot"}, "kind"},
		{Policy{Burst: 5}, "burst"},
		{Policy{Rate: -1}, "rate"},
		{Policy{Rate: 0.0001}, "rate"},
		{Policy{Rate: 2e6}, "rate"},
		{Policy{Rate: 10, Burst: MaxBurst + 1}, "burst"},
		{Policy{Owner: "a\u202eb"}, "owner"},
		{Policy{Owner: strings.Repeat("x", MaxOwnerLen+1)}, "owner"},
		{Policy{Note: "line\nbreak"}, "note"},
		{Policy{Note: strings.Repeat("é", MaxNoteLen+1)}, "note"},
		{Policy{AllowIPs: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/8")}}, "allow_ips"},
		{Policy{AllowIPs: []netip.Prefix{{}}}, "allow_ips"},
	} {
		_, err := NormalizePolicy(c.p)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !strings.HasPrefix(err.Error(), c.field+": ") {
			t.Errorf("NormalizePolicy(%+v) = %v; want a %s error", c.p, err, c.field)
		}
	}
}

func TestKeyUpdateApply(t *testing.T) {
	k := Key{ID: "k1", Name: "web", Status: Active, Policy: Policy{Kind: KindBrowser, Rate: 50, Burst: 100, Quota: 1000, Owner: "ana",
		AllowIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	ptr := func(s string) *string { return &s }
	rate := 10.0
	got, err := KeyUpdate{Rate: &rate}.Apply(k)
	if err != nil || got.Rate != 10 || got.Burst != 10 {
		t.Fatalf("new rate without a burst takes the default burst: %+v, %v", got.Policy, err)
	}
	zero, none := 0.0, []netip.Prefix{}
	var noQuota uint64
	var never time.Time
	kind := KindServer
	got, err = KeyUpdate{Rate: &zero, Quota: &noQuota, AllowIPs: &none, Expires: &never, Kind: &kind, Name: ptr(" api "), Note: ptr("n")}.Apply(k)
	if err != nil || got.Rate != 0 || got.Burst != 0 || got.Quota != 0 || got.AllowIPs != nil || got.Kind != KindServer ||
		got.Name != "api" || got.Note != "n" || got.Owner != "ana" {
		t.Fatalf("clearing: %+v, %v", got, err)
	}
	if k.Rate != 50 || len(k.AllowIPs) != 1 || k.Name != "web" {
		t.Fatalf("Apply changed its input: %+v", k)
	}
	var burst uint32 = 7
	if got, err := (KeyUpdate{Burst: &burst}).Apply(k); err != nil || got.Rate != 50 || got.Burst != 7 {
		t.Fatalf("burst alone: %+v, %v", got.Policy, err)
	}
	if _, err := (KeyUpdate{Burst: &burst, Rate: &zero}).Apply(k); err == nil || !strings.HasPrefix(err.Error(), "burst: ") {
		t.Fatalf("burst without a rate: %v", err)
	}
	if _, err := (KeyUpdate{Name: ptr("")}).Apply(k); err == nil || !strings.HasPrefix(err.Error(), "name: ") {
		t.Fatalf("empty name: %v", err)
	}
	if !(KeyUpdate{}).Empty() || (KeyUpdate{Owner: ptr("")}).Empty() {
		t.Fatal("Empty")
	}
}

func TestPolicyChanges(t *testing.T) {
	before := Policy{Kind: KindBrowser, Rate: 50, Burst: 100}
	after := Policy{Kind: KindServer, Expires: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Rate: 50, Burst: 100, Quota: 5,
		AllowIPs: []netip.Prefix{netip.MustParsePrefix("203.0.113.7/32")}, Owner: "ops"}
	got := PolicyChanges(before, after)
	want := []Change{
		{AuditKind, "browser", "server"},
		{AuditExpires, "", "2026-01-02T03:04:05Z"},
		{AuditAllowIPs, "", "203.0.113.7"},
		{AuditQuota, "", "5/month"},
		{AuditOwner, "", "ops"},
	}
	if len(got) != len(want) {
		t.Fatalf("changes = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("change %d = %+v; want %+v", i, got[i], want[i])
		}
	}
	if c := PolicyChanges(after, after); len(c) != 0 {
		t.Fatalf("no change listed %+v", c)
	}
	if c := PolicyChanges(before, Policy{Kind: KindBrowser, Rate: 50, Burst: 10}); len(c) != 1 || c[0].After != "50/s, burst 10" {
		t.Fatalf("burst change = %+v", c)
	}
}

func TestExpiryLabel(t *testing.T) {
	for _, c := range []struct {
		left time.Duration
		want string
	}{
		{0, "Expired"}, {-time.Hour, "Expired"}, {3*24*time.Hour + time.Hour, "expires in 3 d"},
		{47 * time.Hour, "expires in 47 h"}, {90 * time.Minute, "expires in 90 min"}, {20 * time.Second, "expires in < 1 min"},
		{30*24*time.Hour - time.Second, "expires in 30 d"}, {time.Nanosecond, "expires in < 1 min"},
	} {
		if got := ExpiryLabel(t0.Add(c.left), t0); got != c.want {
			t.Errorf("ExpiryLabel(now%+v) = %q; want %q", c.left, got, c.want)
		}
	}
	if ExpiryLabel(time.Time{}, t0) != "" {
		t.Error("no expiry has no label")
	}
}

func TestMonthStart(t *testing.T) {
	at := time.Date(2026, 12, 31, 23, 30, 0, 0, time.FixedZone("X", -3*3600)) // 2027-01-01 02:30 UTC
	if got := MonthStart(at); !got.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("MonthStart = %v", got)
	}
	if got := NextMonthStart(at); !got.Equal(time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("NextMonthStart = %v", got)
	}
}

func TestKindAndPolicyJSON(t *testing.T) {
	for _, s := range []string{"browser", "Server", " mobile ", ""} {
		if _, err := ParseKind(s); err != nil {
			t.Errorf("ParseKind(%q): %v", s, err)
		}
	}
	if _, err := ParseKind("desktop"); err == nil {
		t.Error("desktop is not a kind")
	}
	k := Key{ID: "k1", Policy: Policy{Kind: KindServer, AllowIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Rate: 0.5, Burst: 1}}
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"kind":"server"`, `"allow_ips":["10.0.0.0/8"]`, `"rate":0.5`, `"burst":1`, `"quota":0`, `"owner":""`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("key JSON %s lacks %s", b, want)
		}
	}
	if strings.Contains(string(b), "expires") {
		t.Errorf("a key that never expires has no expires field: %s", b)
	}
	var back Key
	if err := json.Unmarshal(b, &back); err != nil || back.Rate != 0.5 || len(back.AllowIPs) != 1 || back.Kind != KindServer {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	c := k.Clone()
	c.AllowIPs[0] = netip.MustParsePrefix("11.0.0.0/8")
	if k.AllowIPs[0].String() != "10.0.0.0/8" {
		t.Fatal("Clone shares the allowlist")
	}
}

// FuzzParseIPPrefix: the allowlist parser never panics; what it accepts is
// a valid, masked prefix without a zone that parses back to itself from
// both of its printed forms, and contains its own address.
func FuzzParseIPPrefix(f *testing.F) {
	for _, s := range []string{"203.0.113.7", "10.0.0.0/8", "2001:db8::/32", "::ffff:10.0.0.0/104", "fe80::1%eth0",
		"10.1.2.3/8", "", "::", "0.0.0.0/0", "1.2.3.4/32 ", "[::1]", "::ffff:1.2.3.4/96", "1:2:3:4:5:6:7:8/128"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseIPPrefix(s)
		if err != nil {
			if p.IsValid() {
				t.Fatalf("ParseIPPrefix(%q) returned %v with an error", s, p)
			}
			return
		}
		if !p.IsValid() || p.Masked() != p || p.Addr().Zone() != "" || p.Addr().Is4In6() && p.Bits() >= 96 {
			t.Fatalf("ParseIPPrefix(%q) = %v: not a valid, masked, zone-free prefix", s, p)
		}
		for _, form := range []string{p.String(), FormatPrefix(p)} {
			if q, err := ParseIPPrefix(form); err != nil || q != p {
				t.Fatalf("ParseIPPrefix(%q) = %v, but its form %q parses to %v, %v", s, p, form, q, err)
			}
		}
		if !IPAllowed(p.Addr(), []netip.Prefix{p}) {
			t.Fatalf("%v does not contain its own address", p)
		}
		if n, err := NormalizeAllowIPs([]netip.Prefix{p, p}); err != nil || len(n) != 1 || n[0] != p {
			t.Fatalf("NormalizeAllowIPs(%v twice) = %v, %v", p, n, err)
		}
	})
}

// Owners and notes follow the character rules of names (SPEC.md "Names and
// text"), naming the character.
func TestPolicyTextRules(t *testing.T) {
	for _, s := range []string{"a\u200bb", "tag\U000E0041", "x\u3164y", "e\u0301\u0301\u0301\u0301\u0301", "bad\xff"} {
		_, err := NormalizePolicy(Policy{Note: s})
		var te *TextError
		if !errors.As(err, &te) || te.Field != "note" || !strings.HasPrefix(err.Error(), "note: the note ") {
			t.Errorf("note %q: %v", s, err)
		}
	}
	if _, err := NormalizePolicy(Policy{Owner: "a\u200bb"}); err == nil || !strings.Contains(err.Error(), "U+200B zero width space") {
		t.Errorf("owner with U+200B: %v", err)
	}
	if p, err := NormalizePolicy(Policy{Owner: "ak_team", Note: "k1234"}); err != nil || p.Owner != "ak_team" {
		t.Errorf("owners and notes may look like key references (they are never resolved): %v", err)
	}
}
