package cli_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/internal/testkit"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
)

// keyOut is a key as --json prints it.
type keyOut struct {
	model.Key
	Unrestricted bool `json:"unrestricted"`
	Expired      bool `json:"expired"`
}

// TestBinaryKeyPolicies runs the policy commands through the real binary:
// keys create with every policy flag, keys set (and its --no-* flags),
// keys list/show --json, keys rotate --expire-old-in, check --ip, and the
// usage errors of flags that contradict each other.
func TestBinaryKeyPolicies(t *testing.T) {
	bin := testkit.Binary(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "console.db")
	environ := append(os.Environ(), "TMAPS_DB="+db, "HOME="+dir, "TMAPS_API=", "TMAPS_TOKEN=", "NO_COLOR=1")
	run := func(args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = environ
		out, errOut, code, err := testkit.RunCaptured(cmd)
		if err != nil {
			t.Fatalf("run %v: %v", args, err)
		}
		return code, out, errOut
	}
	must := func(args ...string) string {
		t.Helper()
		code, out, errs := run(args...)
		if code != 0 {
			t.Fatalf("tmaps %q: exit %d\n%s%s", args, code, out, errs)
		}
		return out
	}
	var created struct {
		Key    keyOut
		Secret string
	}
	out := must("keys", "create", "--name", "Tiles backend", "--kind", "server", "--allow-ip", "203.0.113.0/24",
		"--allow-ip", "2001:db8::/32,198.51.100.7", "--rate", "50", "--burst", "100", "--quota", "1000000",
		"--expires-in", "720h", "--owner", "Maps team", "--note", "office only", "--json")
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("keys create --json: %v\n%s", err, out)
	}
	k := created.Key
	if k.Kind != model.KindServer || model.FormatAllowIPs(k.AllowIPs) != "198.51.100.7, 203.0.113.0/24, 2001:db8::/32" ||
		k.Rate != 50 || k.Burst != 100 || k.Quota != 1000000 || k.Owner != "Maps team" || k.Note != "office only" || k.Expired {
		t.Fatalf("created key %+v", k)
	}
	if left := time.Until(k.Expires); left < 719*time.Hour || left > 721*time.Hour {
		t.Fatalf("--expires-in 720h: expires %v", k.Expires)
	}
	// list and show --json carry every policy field.
	var list []keyOut
	if err := json.Unmarshal([]byte(must("keys", "list", "--json")), &list); err != nil || len(list) != 1 {
		t.Fatalf("keys list --json: %v %+v", err, list)
	}
	for _, raw := range []string{must("keys", "list", "--json"), must("keys", "show", k.ID, "--json")} {
		for _, f := range []string{`"kind"`, `"expires"`, `"allow_ips"`, `"rate"`, `"burst"`, `"quota"`, `"owner"`, `"note"`, `"expired"`} {
			if !strings.Contains(raw, f) {
				t.Errorf("--json lacks %s:\n%s", f, raw)
			}
		}
	}
	show := must("keys", "show", k.ID)
	for _, want := range []string{"kind\tserver\n", "ip_allowlist\t198.51.100.7, 203.0.113.0/24, 2001:db8::/32\n",
		"rate_limit\t50/s, burst 100, on each gate node\n", "monthly_quota\t1000000/month (0 used this month, UTC)\n",
		"owner\tMaps team\n", "note\toffice only\n", "(expires in "} {
		if !strings.Contains(show, want) {
			t.Errorf("keys show lacks %q:\n%s", want, show)
		}
	}
	// --owner filters the list; the TSV ends with kind, expires, owner.
	if got := must("keys", "list", "--owner", "maps"); !strings.HasSuffix(strings.TrimSpace(got), "\tserver\t"+k.Expires.UTC().Format(time.RFC3339)+"\tMaps team") {
		t.Errorf("keys list --owner maps = %q", got)
	}
	must("keys", "create", "--name", "Other", "--owner", "Growth")
	if got := must("keys", "list", "--owner", "MAPS"); strings.Count(got, "\n") != 1 {
		t.Errorf("keys list --owner MAPS lists %q", got)
	}

	// check: the IP allowlist with and without --ip; the rate limit noted.
	var chk struct {
		Status int
		Reason string
		Notes  []string
	}
	for _, c := range []struct {
		ip     string
		status int
		reason string
	}{
		{"203.0.113.9", 200, "key_unrestricted"},
		{"2001:db8::5", 200, "key_unrestricted"},
		{"192.0.2.1", 403, "ip_not_authorized"},
		{"", 403, "ip_not_authorized"},
	} {
		args := []string{"check", "--key", created.Secret, "--json"}
		if c.ip != "" {
			args = append(args, "--ip", c.ip)
		}
		if err := json.Unmarshal([]byte(must(args...)), &chk); err != nil || chk.Status != c.status || chk.Reason != c.reason {
			t.Errorf("check --ip %q: %+v, %v; want %d %s", c.ip, chk, err, c.status, c.reason)
		}
		if !strings.Contains(strings.Join(chk.Notes, "\n"), "rate limit 50/s, burst 100 on each gate node") {
			t.Errorf("check does not say the rate limit is not checked: %q", chk.Notes)
		}
	}
	if _, out, _ := run("check", "--key", created.Secret, "--ip", "192.0.2.1"); !strings.Contains(out, `403 {"error":"ip not authorized"}`) ||
		!strings.Contains(out, "step 4b") || !strings.Contains(out, "--allow-ip") {
		t.Errorf("check --ip outside, as text:\n%s", out)
	}

	// keys set: each flag, then the --no-* flags.
	var set keyOut
	if err := json.Unmarshal([]byte(must("keys", "set", k.ID, "--rate", "5", "--quota", "10", "--kind", "mobile", "--note", "", "--json")), &set); err != nil {
		t.Fatal(err)
	}
	if set.Rate != 5 || set.Burst != 5 || set.Quota != 10 || set.Kind != model.KindMobile || set.Note != "" || set.Owner != "Maps team" {
		t.Fatalf("after keys set: %+v", set.Policy)
	}
	if got := must("keys", "set", k.ID, "--no-expiry", "--no-allow-ip", "--no-rate", "--no-quota"); !strings.Contains(got, "expires") ||
		!strings.Contains(got, "→ (none)") {
		t.Errorf("keys set --no-*: %q", got)
	}
	set = keyOut{}
	if err := json.Unmarshal([]byte(must("keys", "show", k.ID, "--json")), &set); err != nil {
		t.Fatal(err)
	}
	if !set.Expires.IsZero() || len(set.AllowIPs) != 0 || set.Rate != 0 || set.Burst != 0 || set.Quota != 0 {
		t.Fatalf("after --no-*: %+v", set.Policy)
	}
	if got := must("keys", "set", k.ID, "--expires-at", "2099-01-02T03:04:05Z"); !strings.Contains(got, "2099-01-02T03:04:05Z") {
		t.Errorf("keys set --expires-at: %q", got)
	}

	// Refusals: usage errors (exit 2) and invalid values (exit 1), nothing changed.
	before := must("keys", "show", k.ID, "--json")
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"keys", "set", k.ID}, 2, "nothing to change"},
		{[]string{"keys", "set", k.ID, "--expires-in", "24h", "--no-expiry"}, 2, "contradict"},
		{[]string{"keys", "set", k.ID, "--expires-in", "24h", "--expires-at", "2099-01-01"}, 2, "contradict"},
		{[]string{"keys", "set", k.ID, "--rate", "5", "--no-rate"}, 2, "contradict"},
		{[]string{"keys", "set", k.ID, "--allow-ip", "10.1.2.3/8"}, 2, "use 10.0.0.0/8 for the whole range"},
		{[]string{"keys", "set", k.ID, "--allow-ip", "mysite.tn"}, 2, "not an IP address"},
		{[]string{"keys", "set", k.ID, "--kind", "desktop"}, 2, "use browser, server or mobile"},
		{[]string{"keys", "set", k.ID, "--expires-in", "soon"}, 2, "positive duration"},
		{[]string{"keys", "set", k.ID, "--expires-at", "2001-01-01"}, 2, "in the past"},
		{[]string{"keys", "set", k.ID, "--rate", "-3"}, 2, "above 0"},
		{[]string{"keys", "set", k.ID, "--burst", "4"}, 1, "--burst: a burst needs a rate limit"},
		{[]string{"keys", "set", k.ID, "--owner", "a\u200bb"}, 1, "U+200B zero width space"},
		{[]string{"keys", "create", "--name", "x", "--no-rate"}, 2, "unknown flag: --no-rate"},
		{[]string{"keys", "rotate", k.ID, "--expire-old-in", "-1h"}, 2, "positive duration"},
		{[]string{"check", "--key", created.Secret, "--ip", "10.0.0.1/8"}, 2, "--ip"},
	} {
		code, out, errs := run(c.args...)
		if code != c.code || !strings.Contains(out+errs, c.msg) {
			t.Errorf("tmaps %q: exit %d, want %d with %q\n%s%s", c.args, code, c.code, c.msg, out, errs)
		}
	}
	if after := must("keys", "show", k.ID, "--json"); after != before {
		t.Errorf("refused commands changed the key:\n%s\n%s", before, after)
	}

	// rotate with a grace period: the old key expires in 24 h, the new one
	// keeps the policy but not the expiry.
	var rot struct {
		Key      keyOut
		Replaces keyOut
	}
	must("keys", "set", k.ID, "--no-expiry", "--rate", "7")
	if err := json.Unmarshal([]byte(must("keys", "rotate", k.ID, "--expire-old-in", "24h", "--json")), &rot); err != nil {
		t.Fatal(err)
	}
	if left := time.Until(rot.Replaces.Expires); left < 23*time.Hour || left > 25*time.Hour {
		t.Fatalf("old key expires %v after rotate --expire-old-in 24h", rot.Replaces.Expires)
	}
	if rot.Key.Rate != 7 || !rot.Key.Expires.IsZero() || rot.Key.Replaces != k.ID {
		t.Fatalf("rotated key %+v", rot.Key)
	}
	_, _, errs := run("keys", "rotate", rot.Key.ID, "--expire-old-in", "2d")
	if !strings.Contains(errs, "until it expires at") {
		t.Errorf("rotate with grace does not say when the old key expires: %q", errs)
	}

	// An expired key: check explains it, list marks it.
	st, err := bolt.Open(db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Minute)
	ek, esecret, err := st.CreateKey(store.WithActor(t.Context(), "test"), "expired one", model.Policy{Expires: past})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, out, _ := run("check", "--key", esecret); !strings.Contains(out, `401 {"error":"api_key expired"}`) || !strings.Contains(out, "--no-expiry") {
		t.Errorf("check of an expired key:\n%s", out)
	}
	var eo keyOut
	if err := json.Unmarshal([]byte(must("keys", "show", ek.ID, "--json")), &eo); err != nil || !eo.Expired {
		t.Errorf("an expired key's JSON: %+v %v", eo, err)
	}
	// Audit: every change is there, with before and after.
	audit := must("audit", "--object", "key:"+k.ID)
	for _, a := range []string{"policy.rate", "policy.quota", "policy.kind", "policy.expires", "policy.allow_ips", "policy.note", "rotate"} {
		if !strings.Contains(audit, a) {
			t.Errorf("audit lacks %s:\n%s", a, audit)
		}
	}
	if strings.Contains(audit, created.Secret[3:]) {
		t.Error("the audit shows a secret")
	}
}
