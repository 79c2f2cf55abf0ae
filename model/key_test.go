package model

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"
)

var secretRE = regexp.MustCompile(`^ak_[0-9a-f]{32}$`)

func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		s := NewSecret()
		if !secretRE.MatchString(s) || len(s) != SecretLen {
			t.Fatalf("NewSecret() = %q; want ^ak_[0-9a-f]{32}$", s)
		}
		if !ValidSecret(s) {
			t.Fatalf("ValidSecret(NewSecret()) = false for %q", s)
		}
		if seen[s] {
			t.Fatalf("NewSecret() repeated %q", s)
		}
		seen[s] = true
	}
}

func TestValidSecret(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{goodSecret, true},
		{"ak_ffffffffffffffffffffffffffffffff", true},
		{"ak_00000000000000000000000000000000", true},
		{"", false},
		{"ak_", false},
		{"ak_0123456789abcdef0123456789abcde", false},   // 31 hex
		{"ak_0123456789abcdef0123456789abcdef0", false}, // 33 hex
		{"ak_0123456789ABCDEF0123456789ABCDEF", false},  // uppercase hex
		{"AK_0123456789abcdef0123456789abcdef", false},
		{"ak-0123456789abcdef0123456789abcdef", false},
		{"ak_0123456789abcdef0123456789abcdeg", false},
		{" ak_0123456789abcdef0123456789abcde", false},
		{"ak_0123456789abcdef0123456789abcd\x00f", false},
		{"ak_0123456789abcdef0123456789abcdé", false},
		{"xx_0123456789abcdef0123456789abcdef", false},
	}
	for _, tt := range tests {
		if got := ValidSecret(tt.s); got != tt.want {
			t.Errorf("ValidSecret(%q) = %v; want %v", tt.s, got, tt.want)
		}
		if got := secretRE.MatchString(tt.s); got != tt.want {
			t.Errorf("test table disagrees with the SPEC regex for %q", tt.s)
		}
	}
	if n := testing.AllocsPerRun(100, func() { ValidSecret(goodSecret) }); n != 0 {
		t.Errorf("ValidSecret allocates %v times", n)
	}
}

func TestDigestOf(t *testing.T) {
	// Known SHA-256 vector, independent of the implementation.
	if got := DigestOf("abc").String(); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("DigestOf(abc) = %s", got)
	}
	want := sha256.Sum256([]byte(goodSecret))
	if d := DigestOf(goodSecret); d != Digest(want) {
		t.Errorf("DigestOf(%q) = %x; want %x", goodSecret, d, want)
	}
	if DigestOf(goodSecret) == DigestOf(goodSecret[:34]+"0") {
		t.Error("different secrets, same digest")
	}
	// The digest's text form never contains the secret.
	s := NewSecret()
	if strings.Contains(DigestOf(s).String(), s[3:]) {
		t.Error("digest string contains the secret")
	}
}

func TestParseDigest(t *testing.T) {
	d := DigestOf(goodSecret)
	got, err := ParseDigest(d.String())
	if err != nil || got != d {
		t.Errorf("ParseDigest(String()) = %x, %v; want %x", got, err, d)
	}
	for _, bad := range []string{"", "abc", strings.Repeat("z", 64), strings.Repeat("a", 63), strings.Repeat("a", 66)} {
		if _, err := ParseDigest(bad); err == nil {
			t.Errorf("ParseDigest(%q) accepted", bad)
		}
	}
	if got, err := ParseDigest(strings.ToUpper(d.String())); err != nil || got != d {
		t.Errorf("ParseDigest(upper) = %x, %v", got, err)
	}
	if hex.EncodeToString(d[:]) != d.String() {
		t.Errorf("Digest.String() = %s", d.String())
	}
}

func TestDisplayPrefix(t *testing.T) {
	tests := []struct{ in, want string }{
		{goodSecret, "ak_01234567"},
		{"ak_3f9a1c07aaaaaaaaaaaaaaaaaaaaaaaa", "ak_3f9a1c07"},
		{"ak_3f9a1c07", ""}, // not a valid secret
		{"", ""},
		{"ak_0123456789ABCDEF0123456789ABCDEF", ""},
	}
	for _, tt := range tests {
		if got := DisplayPrefix(tt.in); got != tt.want {
			t.Errorf("DisplayPrefix(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
	s := NewSecret()
	if p := DisplayPrefix(s); len(p) != DisplayPrefixLen || !strings.HasPrefix(s, p) {
		t.Errorf("DisplayPrefix(%q) = %q", s, p)
	}
}

func TestNewID(t *testing.T) {
	re := regexp.MustCompile(`^k[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if !re.MatchString(id) || seen[id] {
			t.Fatalf("NewID() = %q (repeated: %v)", id, seen[id])
		}
		seen[id] = true
	}
}

func TestStatus(t *testing.T) {
	for _, tt := range []struct {
		s     Status
		label string
		valid bool
	}{{Active, "Active", true}, {Disabled, "Disabled", true}, {Revoked, "Revoked", true}, {"", "Unknown", false}, {"Active", "Unknown", false}} {
		if tt.s.Label() != tt.label || tt.s.Valid() != tt.valid {
			t.Errorf("Status %q: Label %q Valid %v", tt.s, tt.s.Label(), tt.s.Valid())
		}
	}
	for in, want := range map[string]Status{"active": Active, " Disabled ": Disabled, "REVOKED": Revoked} {
		if got, err := ParseStatus(in); err != nil || got != want {
			t.Errorf("ParseStatus(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "enabled", "gone"} {
		if _, err := ParseStatus(bad); err == nil || !strings.Contains(err.Error(), "use active, disabled or revoked") {
			t.Errorf("ParseStatus(%q) error = %v", bad, err)
		}
	}
}

func TestTransition(t *testing.T) {
	tests := []struct {
		from Status
		act  Action
		to   Status
		err  error
	}{
		{Active, ActDisable, Disabled, nil},
		{Disabled, ActEnable, Active, nil},
		{Active, ActRevoke, Revoked, nil},
		{Disabled, ActRevoke, Revoked, nil},
		// Refused, each with its sentinel; the status is unchanged.
		{Active, ActEnable, Active, ErrAlreadyActive},
		{Disabled, ActDisable, Disabled, ErrAlreadyDisabled},
		{Revoked, ActEnable, Revoked, ErrKeyRevoked},
		{Revoked, ActDisable, Revoked, ErrKeyRevoked},
		{Revoked, ActRevoke, Revoked, ErrKeyRevoked},
	}
	for _, tt := range tests {
		to, err := tt.from.Transition(tt.act)
		if to != tt.to || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("%s.Transition(%s) = %s, %v; want %s, %v", tt.from, tt.act, to, err, tt.to, tt.err)
		}
	}
	if to, err := Active.Transition("delete"); err == nil || to != Active {
		t.Errorf("unknown action: %s, %v", to, err)
	}
	// Any number of disable/enable cycles.
	s := Active
	for range 10 {
		var err error
		if s, err = s.Transition(ActDisable); err != nil {
			t.Fatal(err)
		}
		if s, err = s.Transition(ActEnable); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNormalizeKeyName(t *testing.T) {
	ok := []struct{ in, want string }{
		{"Production frontend", "Production frontend"},
		{"  Mobile app iOS \t", "Mobile app iOS"},
		{"é", "é"},
		{strings.Repeat("é", MaxNameLen), strings.Repeat("é", MaxNameLen)}, // characters, not bytes
		{"clé 🔑", "clé 🔑"},
	}
	for _, tt := range ok {
		if got, err := NormalizeKeyName(tt.in); err != nil || got != tt.want {
			t.Errorf("NormalizeKeyName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	bad := []struct {
		in  string
		err error
	}{
		{"", ErrNameEmpty},
		{"   \t\n", ErrNameEmpty},
		{strings.Repeat("a", MaxNameLen+1), ErrNameTooLong},
		{"a\x1b[31mred", ErrNameControl},
		{"a\x00b", ErrNameControl},
		{"a\u0085b", ErrNameControl},
		{"evil\u202eexe.txt", ErrNameControl},
		{"a\u2066b", ErrNameControl},
		{"tab\tinside", ErrNameControl},
	}
	for _, tt := range bad {
		if got, err := NormalizeKeyName(tt.in); !errors.Is(err, tt.err) || got != "" {
			t.Errorf("NormalizeKeyName(%q) = %q, %v; want %v", tt.in, got, err, tt.err)
		}
	}
	if _, err := NormalizeKeyName("a\xffb"); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Errorf("invalid UTF-8: %v", err)
	}
}

func TestIsBidi(t *testing.T) {
	for _, r := range []rune{0x202A, 0x202E, 0x2066, 0x2069, 0x200E, 0x200F, 0x061C} {
		if !IsBidi(r) {
			t.Errorf("IsBidi(%U) = false", r)
		}
	}
	for _, r := range []rune{'a', 0x2029, 0x206A, 0x200D, 'ب'} {
		if IsBidi(r) {
			t.Errorf("IsBidi(%U) = true", r)
		}
	}
}

func TestCloneAndUnrestricted(t *testing.T) {
	k := Key{Domains: []string{"mysite.tn"}}
	c := k.Clone()
	c.Domains[0] = "evil.com"
	if k.Domains[0] != "mysite.tn" || k.Unrestricted() {
		t.Errorf("Clone shares Domains: %v", k.Domains)
	}
	if !(Key{}).Unrestricted() {
		t.Error("a key with no domain is unrestricted")
	}
	d := Domain{Keys: []string{"k1"}}
	dc := d.Clone()
	dc.Keys[0] = "k2"
	if d.Keys[0] != "k1" {
		t.Errorf("Domain.Clone shares Keys")
	}
}

func TestReason(t *testing.T) {
	for r := ReasonNone; r <= ReasonDomainNotAuthorized; r++ {
		if r.String() == "unknown" || r.String() == "" {
			t.Errorf("Reason %d has no name", r)
		}
		if r != ReasonNone && !strings.HasPrefix(r.Explain(), "step ") {
			t.Errorf("Reason %s: Explain() = %q", r, r.Explain())
		}
	}
	if Reason(200).String() != "unknown" || Reason(200).Explain() != "no decision" {
		t.Error("out-of-range reason")
	}
}
