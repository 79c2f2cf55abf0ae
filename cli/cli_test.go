package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
)

// env is a test environment: a temporary store file and HOME.
type env struct {
	t    *testing.T
	db   string
	home string
	vars map[string]string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, db: filepath.Join(dir, "data", "console.db"), home: filepath.Join(dir, "home")}
	e.vars = map[string]string{"HOME": e.home, "TMAPS_DB": e.db, "USER": "tester"}
	return e
}

// result is one run of the command line.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return "exit " + string(rune('0'+r.code)) + "\nstdout: " + r.stdout + "\nstderr: " + r.stderr
}

// opts says how a run's terminal looks.
type opts struct {
	outTTY, inTTY bool
	stdin         string
	// in, when set, is stdin instead of the stdin string.
	in  io.Reader
	ctx context.Context
}

func (e *env) run(args ...string) result { return e.runWith(opts{}, args...) }

func (e *env) runWith(o opts, args ...string) result {
	e.t.Helper()
	var out, errb bytes.Buffer
	if o.ctx == nil {
		o.ctx = context.Background()
	}
	if o.in == nil {
		o.in = strings.NewReader(o.stdin)
	}
	a := &app{
		ctx:         o.ctx,
		stdin:       o.in,
		stdout:      &out,
		stderr:      &errb,
		getenv:      func(k string) string { return e.vars[k] },
		outTTY:      o.outTTY,
		inTTY:       o.inTTY,
		now:         time.Now,
		lockTimeout: 200 * time.Millisecond,
	}
	code := a.execute(args)
	return result{code, out.String(), errb.String()}
}

// must runs and fails the test unless the exit code is 0.
func (e *env) must(args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("tmaps %q: %v", args, r)
	}
	return r
}

// want checks the exit code and that stderr (or stdout) mentions each part.
func (e *env) want(r result, code int, parts ...string) {
	e.t.Helper()
	if r.code != code {
		e.t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	for _, p := range parts {
		if !strings.Contains(r.stderr+r.stdout, p) {
			e.t.Errorf("output does not mention %q\nstdout: %s\nstderr: %s", p, r.stdout, r.stderr)
		}
	}
}

// open opens the test store directly (between runs).
func (e *env) open() *bolt.Store {
	e.t.Helper()
	st, err := bolt.Open(e.db, bolt.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

func (e *env) keys() []model.Key {
	e.t.Helper()
	st := e.open()
	defer st.Close()
	ks, err := st.Keys(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return ks
}

func (e *env) key(id string) model.Key {
	e.t.Helper()
	st := e.open()
	defer st.Close()
	k, err := st.Key(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return k
}

func (e *env) auditLen() int {
	e.t.Helper()
	st := e.open()
	defer st.Close()
	es, err := st.Audit(context.Background(), store.AuditQuery{})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(es)
}

// created is what keys create --json prints.
type created struct {
	Key    keyJSON `json:"key"`
	Secret string  `json:"secret"`
}

func (e *env) create(name string, domains ...string) created {
	e.t.Helper()
	r := e.must("keys", "create", "--name", name, "--json")
	var c created
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
		e.t.Fatalf("keys create --json: %v\n%s", err, r.stdout)
	}
	for _, d := range domains {
		if r := e.run("domains", "add", d); r.code != 0 && !strings.Contains(r.stderr, "already exists") {
			e.t.Fatalf("domains add %s: %v", d, r)
		}
	}
	if len(domains) > 0 {
		e.must(append([]string{"keys", "link", c.Key.ID}, domains...)...)
	}
	return c
}

func TestCreateJSONListShow(t *testing.T) {
	e := newEnv(t)
	c := e.create("Production frontend")
	if !model.ValidSecret(c.Secret) {
		t.Fatalf("secret %q is not ak_ + 32 hex", c.Secret)
	}
	if c.Key.Name != "Production frontend" || c.Key.Status != model.Active || c.Key.Prefix != model.DisplayPrefix(c.Secret) || !c.Key.Unrestricted {
		t.Errorf("created key %+v", c.Key)
	}
	// The store file was created with its directory.
	if ks := e.keys(); len(ks) != 1 || ks[0].ID != c.Key.ID {
		t.Fatalf("store holds %+v", ks)
	}

	r := e.must("keys", "list", "--json")
	var list []keyJSON
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 1 || list[0].ID != c.Key.ID {
		t.Fatalf("keys list --json: %v %s", err, r.stdout)
	}
	// The secret is never printed again, by any command.
	for _, args := range [][]string{{"keys", "list"}, {"keys", "list", "--json"}, {"keys", "show", c.Key.ID},
		{"keys", "show", c.Key.ID, "--json"}, {"audit"}, {"audit", "--json"}} {
		if r := e.must(args...); strings.Contains(r.stdout+r.stderr, c.Secret[3:]) {
			t.Errorf("tmaps %v prints the secret", args)
		}
	}
	// KEY by id, id prefix, display prefix and exact name.
	for _, ref := range []string{c.Key.ID, c.Key.ID[:6], c.Key.Prefix, "Production frontend"} {
		r := e.must("keys", "show", ref, "--json")
		var k keyJSON
		if err := json.Unmarshal([]byte(r.stdout), &k); err != nil || k.ID != c.Key.ID {
			t.Errorf("keys show %q: %v %s", ref, err, r.stdout)
		}
	}
	// Not a terminal: tab-separated, no header; kind, expires, owner and
	// the leak time come last, empty for a key without a policy or a leak.
	r = e.must("keys", "list")
	fields := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\t")
	if len(fields) != 10 || fields[0] != c.Key.ID || fields[1] != "Production frontend" || fields[3] != "active" || fields[5] != "" ||
		fields[6] != "" || fields[7] != "" || fields[8] != "" || fields[9] != "" {
		t.Errorf("keys list (not a terminal) = %q", r.stdout)
	}
	// A terminal: a table with a header and the unrestricted note.
	r = e.runWith(opts{outTTY: true}, "keys", "list")
	if !strings.HasPrefix(r.stdout, "NAME") || !strings.Contains(r.stdout, "unrestricted") || strings.Contains(r.stdout, "\t") {
		t.Errorf("keys list (terminal) = %q", r.stdout)
	}
	r = e.runWith(opts{outTTY: true}, "keys", "show", c.Key.ID)
	if !strings.Contains(r.stdout, "Status:") || !strings.Contains(r.stdout, "Active") {
		t.Errorf("keys show (terminal) = %q", r.stdout)
	}
}

func TestEmptyStoreListings(t *testing.T) {
	e := newEnv(t)
	if r := e.must("keys", "list"); r.stdout != "" {
		t.Errorf("empty keys list (not a terminal) = %q", r.stdout)
	}
	e.want(e.runWith(opts{outTTY: true}, "keys", "list"), 0, "tmaps keys create")
	e.want(e.runWith(opts{outTTY: true}, "domains", "list"), 0, "tmaps domains add")
	if r := e.must("domains", "list", "--json"); strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("domains list --json on an empty store = %q", r.stdout)
	}
}

func TestCreatePrintsOnlySecretWhenPiped(t *testing.T) {
	e := newEnv(t)
	r := e.must("keys", "create", "--name", "x")
	secret := strings.TrimSuffix(r.stdout, "\n")
	if !model.ValidSecret(secret) || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("stdout = %q, want only the secret", r.stdout)
	}
	if !strings.Contains(r.stderr, "shown once") || strings.Contains(r.stderr, secret) {
		t.Errorf("stderr = %q, want the warning without the secret", r.stderr)
	}
	st := e.open()
	k, err := st.KeyByDigest(context.Background(), model.DigestOf(secret))
	st.Close()
	if err != nil || k.Name != "x" {
		t.Errorf("the printed secret is not the key's: %v %+v", err, k)
	}
	// On a terminal: the secret and the warning on stdout.
	r = e.runWith(opts{outTTY: true}, "keys", "create", "--name", "y")
	if !strings.Contains(r.stdout, "ak_") || !strings.Contains(r.stdout, "shown once") {
		t.Errorf("terminal create = %q", r.stdout)
	}
}

func TestCreateBadNames(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ name, want string }{
		{"", "required"},
		{"   ", "required"},
		{strings.Repeat("n", 101), "too long"},
		{"bad\x1b[31mname", "U+001B escape"},
		{"tab\tname", "U+0009 tab"},
		{"new\nline", "U+000A line feed"},
		{"rtl\u202eevil", "U+202E right-to-left override"},
		{"zero\u200bwidth", "U+200B zero width space"},
		{"ak_ec6283fc", "key reference"},
		{"bad\xffutf8", "UTF-8"},
	} {
		r := e.run("keys", "create", "--name", tc.name)
		e.want(r, ExitError, tc.want, "e.g.")
		if strings.ContainsRune(r.stderr, 0x1b) || strings.ContainsRune(r.stderr, 0x202e) {
			t.Errorf("name %q: raw control characters reach the terminal: %q", tc.name, r.stderr)
		}
	}
	e.want(e.run("keys", "create"), ExitUsage, "--name is required")
	if ks := e.keys(); len(ks) != 0 {
		t.Errorf("bad names created keys: %+v", ks)
	}
	// 100 characters is fine; names are trimmed.
	c := e.create(strings.Repeat("é", 100))
	if len([]rune(c.Key.Name)) != 100 {
		t.Errorf("100-character name stored as %q", c.Key.Name)
	}
	c = e.create("  padded  ")
	if c.Key.Name != "padded" {
		t.Errorf("name not trimmed: %q", c.Key.Name)
	}
}

func TestDuplicateNameWarns(t *testing.T) {
	e := newEnv(t)
	first := e.create("Mobile app")
	r := e.run("keys", "create", "--name", "Mobile app")
	e.want(r, ExitOK, "warning", "already named", first.Key.ID)
	if !model.ValidSecret(strings.TrimSpace(r.stdout)) {
		t.Errorf("duplicate create stdout = %q", r.stdout)
	}
	// Now the name is ambiguous: an error listing both candidates.
	ks := e.keys()
	r = e.run("keys", "show", "Mobile app")
	e.want(r, ExitError, "matches 2 keys", ks[0].ID, ks[1].ID)
	// Renaming into a taken name warns too.
	other := e.create("Other")
	e.want(e.run("keys", "rename", other.Key.ID, "Mobile app"), ExitOK, "already named")
}

func TestUnknownKeyEverywhere(t *testing.T) {
	e := newEnv(t)
	e.create("k1")
	e.must("domains", "add", "mysite.tn")
	for _, args := range [][]string{
		{"keys", "show", "nope"},
		{"keys", "rename", "nope", "new"},
		{"keys", "disable", "nope", "--yes"},
		{"keys", "enable", "nope"},
		{"keys", "revoke", "nope", "--confirm", "nope"},
		{"keys", "rotate", "nope"},
		{"keys", "link", "nope", "mysite.tn"},
		{"keys", "unlink", "nope", "mysite.tn", "--yes"},
		{"keys", "show", "ak_00000000"},
		{"keys", "show", ""},
	} {
		r := e.run(args...)
		e.want(r, ExitRefused, "no such key")
	}
	// Control characters in the reference are escaped in the message.
	r := e.run("keys", "show", "\x1b]52;c;aGk=\x07")
	e.want(r, ExitRefused)
	if strings.ContainsRune(r.stderr, 0x1b) || strings.ContainsRune(r.stderr, 0x07) {
		t.Errorf("raw control characters in %q", r.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	e := newEnv(t)
	for _, args := range [][]string{
		{"--bogus"},
		{"keys", "list", "--bogus"},
		{"keys", "create", "--name"},
		{"keys", "show"},
		{"keys", "show", "a", "b"},
		{"keys", "rename", "a"},
		{"keys", "link", "a"},
		{"keys", "frobnicate"},
		{"domains", "add"},
		{"domains", "delete", "a", "b"},
		{"check"},
		{"check", "--key", "x", "--nope"},
		{"audit", "--limit", "many"},
		{"audit", "--limit", "-1"},
		{"keys", "list", "--status", "sleeping"},
		{"nonsense"},
	} {
		r := e.run(args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, "--help") {
			t.Errorf("tmaps %q: %v, want exit 2 with a --help hint", args, r)
		}
	}
	// Help is not an error.
	if r := e.run("keys", "--help"); r.code != 0 || !strings.Contains(r.stdout, "revoke") {
		t.Errorf("keys --help: %v", r)
	}
	if r := e.run("keys"); r.code != 0 || !strings.Contains(r.stdout, "Available Commands") {
		t.Errorf("keys: %v", r)
	}
}

func TestInvalidDomains(t *testing.T) {
	e := newEnv(t)
	c := e.create("web")
	for _, tc := range []struct{ in, want string }{
		{"https://mysite.tn", "remove the scheme"},
		{"mysite.tn/dashboard", "remove the path"},
		{"*.mysite.tn", "wildcards are not supported"},
		{"mysite.tn:8443", "remove the port"},
		{"", "empty"},
		{"my_site.tn", "_"},
		{"-mysite.tn", "hyphen"},
		{"mysite-.tn", "hyphen"},
		{strings.Repeat("a", 64) + ".tn", "63"},
		{"a..tn", "empty"},
		{"evil\x1b[2J.tn", `\x1b`},
	} {
		for _, args := range [][]string{{"domains", "add", "--", tc.in}, {"keys", "link", "--", c.Key.ID, tc.in}, {"domains", "show", "--", tc.in}} {
			r := e.run(args...)
			e.want(r, ExitError, "not a valid domain", tc.want)
			if strings.ContainsRune(r.stderr, 0x1b) {
				t.Errorf("raw escape in %q", r.stderr)
			}
		}
	}
	if r := e.must("domains", "list"); r.stdout != "" {
		t.Errorf("invalid domains were stored: %q", r.stdout)
	}
	if k := e.key(c.Key.ID); len(k.Domains) != 0 {
		t.Errorf("invalid domains were linked: %v", k.Domains)
	}
}

func TestDomainsAddShowIDN(t *testing.T) {
	e := newEnv(t)
	r := e.must("domains", "add", "  MySite.TN. ")
	if !strings.Contains(r.stderr, "Added domain mysite.tn") || r.stdout != "" {
		t.Errorf("add: the message belongs on stderr: %v", r)
	}
	// Adding it again says so and changes nothing.
	before := e.auditLen()
	e.want(e.run("domains", "add", "mysite.tn"), ExitError, "already exists")
	if e.auditLen() != before {
		t.Error("adding an existing domain wrote an audit entry")
	}
	r = e.must("domains", "add", "café.tn", "--json")
	var d domainJSON
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil || d.Name != "xn--caf-dma.tn" || d.Unicode != "café.tn" {
		t.Errorf("IDN add: %v %s", err, r.stdout)
	}
	e.want(e.run("domains", "show", "café.tn"), ExitOK, "xn--caf-dma.tn", "café.tn")
	// A mixed-script name warns.
	r = e.run("domains", "add", "mуsite.tn") // Cyrillic у
	e.want(r, ExitOK, "mixes scripts")
	r = e.runWith(opts{outTTY: true}, "domains", "list")
	if !strings.Contains(r.stdout, "DOMAIN") || !strings.Contains(r.stdout, "café.tn") || !strings.Contains(r.stdout, "mixed scripts") {
		t.Errorf("domains list (terminal) = %q", r.stdout)
	}
	r = e.must("domains", "list")
	if !strings.Contains(r.stdout, "xn--caf-dma.tn\tcafé.tn\t0\t") {
		t.Errorf("domains list (not a terminal) = %q", r.stdout)
	}
	e.want(e.run("domains", "show", "nowhere.tn"), ExitRefused, "no such domain", "tmaps domains add nowhere.tn")
	e.want(e.run("domains", "delete", "nowhere.tn"), ExitRefused, "no such domain")
}

func TestLinkUnlink(t *testing.T) {
	e := newEnv(t)
	c := e.create("web")
	e.must("domains", "add", "mysite.tn")
	e.must("domains", "add", "app.mysite.tn")

	// Linking an unknown domain says how to add it, and links nothing.
	r := e.run("keys", "link", c.Key.ID, "mysite.tn", "other.tn")
	e.want(r, ExitRefused, "run `tmaps domains add other.tn` first")
	if k := e.key(c.Key.ID); len(k.Domains) != 0 {
		t.Fatalf("partial link: %v", k.Domains)
	}
	e.want(e.run("keys", "link", c.Key.ID, "mysite.tn", "APP.mysite.tn"), ExitOK, "Linked")
	if k := e.key(c.Key.ID); !slices.Equal(k.Domains, []string{"app.mysite.tn", "mysite.tn"}) {
		t.Fatalf("domains after link: %v", k.Domains)
	}
	e.want(e.run("keys", "link", c.Key.ID, "mysite.tn"), ExitOK, "Already linked")

	// Unlinking one of two needs no confirmation.
	e.want(e.run("keys", "unlink", c.Key.ID, "app.mysite.tn"), ExitOK, "Unlinked app.mysite.tn")
	// Unlinking the last one leaves the key unrestricted: refused without --yes.
	before := e.auditLen()
	r = e.run("keys", "unlink", c.Key.ID, "mysite.tn")
	e.want(r, ExitRefused, "unrestricted", "--yes", `"web"`)
	if k := e.key(c.Key.ID); !slices.Equal(k.Domains, []string{"mysite.tn"}) || e.auditLen() != before {
		t.Fatalf("refused unlink changed the store: %v", k.Domains)
	}
	// On a terminal it asks; "n" refuses, "y" proceeds.
	e.want(e.runWith(opts{inTTY: true, stdin: "n\n"}, "keys", "unlink", c.Key.ID, "mysite.tn"), ExitRefused, "[y/N]")
	if k := e.key(c.Key.ID); len(k.Domains) != 1 {
		t.Fatal("answer n unlinked")
	}
	e.want(e.runWith(opts{inTTY: true, stdin: "y\n"}, "keys", "unlink", c.Key.ID, "mysite.tn"), ExitOK, "now unrestricted")
	if k := e.key(c.Key.ID); len(k.Domains) != 0 {
		t.Fatalf("domains after unlink: %v", k.Domains)
	}
	// With --yes and --json.
	e.must("keys", "link", c.Key.ID, "mysite.tn")
	r = e.must("keys", "unlink", c.Key.ID, "mysite.tn", "--yes", "--json")
	var k keyJSON
	if err := json.Unmarshal([]byte(r.stdout), &k); err != nil || !k.Unrestricted {
		t.Errorf("unlink --json: %v %s", err, r.stdout)
	}
	e.want(e.run("keys", "unlink", c.Key.ID, "gone.tn", "--yes"), ExitRefused, "does not exist")
}

func TestDeleteDomainLeavingKeyUnrestricted(t *testing.T) {
	e := newEnv(t)
	only := e.create("Only mysite", "mysite.tn")
	both := e.create("Both", "mysite.tn", "app.mysite.tn")
	e.create("Spare", "app.mysite.tn")

	before := e.auditLen()
	r := e.run("domains", "delete", "mysite.tn")
	e.want(r, ExitRefused, "Only mysite", only.Key.Prefix, "unrestricted", "--yes")
	if strings.Contains(r.stderr, `"Both"`) {
		t.Errorf("names a key that keeps a domain: %s", r.stderr)
	}
	if k := e.key(only.Key.ID); len(k.Domains) != 1 || e.auditLen() != before {
		t.Fatal("refused delete changed the store")
	}
	r = e.must("domains", "delete", "mysite.tn", "--yes")
	if !strings.Contains(r.stderr, "unlinked it from 2 key(s)") || r.stdout != "" {
		t.Errorf("delete: the message belongs on stderr: %v", r)
	}
	if k := e.key(only.Key.ID); !k.Unrestricted() {
		t.Error("key still linked to the deleted domain")
	}
	if k := e.key(both.Key.ID); !slices.Equal(k.Domains, []string{"app.mysite.tn"}) {
		t.Errorf("other key's domains: %v", k.Domains)
	}
	// A domain whose keys all keep another domain goes without --yes.
	e.must("domains", "add", "spare.tn")
	e.must("keys", "link", both.Key.ID, "spare.tn")
	e.must("domains", "delete", "spare.tn")
}

func TestDisableEnable(t *testing.T) {
	e := newEnv(t)
	c := e.create("svc")
	before := e.auditLen()
	e.want(e.run("keys", "disable", c.Key.ID), ExitRefused, "needs confirmation", "--yes")
	e.want(e.runWith(opts{inTTY: true, stdin: "\n"}, "keys", "disable", c.Key.ID), ExitRefused, "[y/N]", "401")
	if k := e.key(c.Key.ID); k.Status != model.Active || e.auditLen() != before {
		t.Fatal("refused disable changed the store")
	}
	e.want(e.runWith(opts{inTTY: true, stdin: "yes\n"}, "keys", "disable", c.Key.ID), ExitOK, "Disabled")
	if k := e.key(c.Key.ID); k.Status != model.Disabled {
		t.Fatalf("status %s after disable", k.Status)
	}
	e.want(e.run("keys", "disable", c.Key.ID, "--yes"), ExitError, "already disabled")
	e.want(e.run("keys", "enable", c.Key.ID), ExitOK, "Enabled")
	e.want(e.run("keys", "enable", c.Key.ID), ExitError, "already active")
	r := e.must("keys", "disable", c.Key.ID, "-y", "--json")
	var k keyJSON
	if err := json.Unmarshal([]byte(r.stdout), &k); err != nil || k.Status != model.Disabled {
		t.Errorf("disable --json: %v %s", err, r.stdout)
	}
}

func TestRevoke(t *testing.T) {
	e := newEnv(t)
	c := e.create("Legacy site")
	before := e.auditLen()
	for _, o := range []struct {
		o    opts
		args []string
	}{
		{opts{}, []string{"--confirm", "legacy site"}},
		{opts{}, []string{"--confirm", "Legacy"}},
		{opts{}, []string{"--confirm", ""}},
		{opts{}, nil},
		{opts{inTTY: true, stdin: "Legacy\n"}, nil},
	} {
		r := e.runWith(o.o, append([]string{"keys", "revoke", c.Key.ID}, o.args...)...)
		e.want(r, ExitRefused, "nothing changed", "--confirm 'Legacy site'")
	}
	if k := e.key(c.Key.ID); k.Status != model.Active || e.auditLen() != before {
		t.Fatalf("refused revoke changed the store: %s", k.Status)
	}
	e.want(e.run("keys", "revoke", c.Key.ID, "--confirm", "Legacy site"), ExitOK, "Revoked", "permanently")
	if k := e.key(c.Key.ID); k.Status != model.Revoked {
		t.Fatalf("status %s after revoke", k.Status)
	}
	// Revoked is final.
	e.must("domains", "add", "mysite.tn")
	for _, args := range [][]string{
		{"keys", "revoke", c.Key.ID, "--confirm", "Legacy site"},
		{"keys", "enable", c.Key.ID},
		{"keys", "disable", c.Key.ID, "--yes"},
		{"keys", "rename", c.Key.ID, "Back"},
		{"keys", "rotate", c.Key.ID},
		{"keys", "link", c.Key.ID, "mysite.tn"},
	} {
		e.want(e.run(args...), ExitError, "revoked")
	}
	// The typed name on a terminal.
	d := e.create("Typed")
	e.want(e.runWith(opts{inTTY: true, stdin: "Typed\n"}, "keys", "revoke", d.Key.ID), ExitOK, "Revoked")
}

func TestRenameRotate(t *testing.T) {
	e := newEnv(t)
	c := e.create("old name", "mysite.tn")
	e.want(e.run("keys", "rename", c.Key.ID, "new name"), ExitOK, `from "old name" to "new name"`)
	e.want(e.run("keys", "rename", c.Key.ID, strings.Repeat("x", 101)), ExitError, "too long")
	e.want(e.run("keys", "rename", c.Key.ID, " "), ExitError, "required")
	if k := e.key(c.Key.ID); k.Name != "new name" {
		t.Fatalf("name %q", k.Name)
	}

	r := e.must("keys", "rotate", c.Key.ID)
	secret := strings.TrimSpace(r.stdout)
	if !model.ValidSecret(secret) || secret == c.Secret {
		t.Fatalf("rotate stdout = %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "tmaps keys revoke "+c.Key.ID) || !strings.Contains(r.stderr, "stays Active") {
		t.Errorf("rotate stderr = %q", r.stderr)
	}
	old := e.key(c.Key.ID)
	nk := e.key(old.ReplacedBy)
	if old.Status != model.Active || nk.Replaces != old.ID || nk.Name != "new name" || !slices.Equal(nk.Domains, []string{"mysite.tn"}) || nk.Prefix != model.DisplayPrefix(secret) {
		t.Errorf("after rotate: old %+v new %+v", old, nk)
	}
	r = e.must("keys", "rotate", nk.ID, "--json")
	var out struct {
		Key      keyJSON `json:"key"`
		Secret   string  `json:"secret"`
		Replaces keyJSON `json:"replaces"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || !model.ValidSecret(out.Secret) || out.Replaces.ID != nk.ID || out.Replaces.ReplacedBy != out.Key.ID {
		t.Errorf("rotate --json: %v %s", err, r.stdout)
	}
}

func TestCheck(t *testing.T) {
	e := newEnv(t)
	c := e.create("web", "mysite.tn")
	free := e.create("server")
	type checkOut struct {
		Status int    `json:"status"`
		Error  string `json:"error"`
		Reason string `json:"reason"`
		Host   string `json:"host"`
		Key    *struct {
			ID string `json:"id"`
		} `json:"key"`
	}
	check := func(args ...string) (checkOut, result) {
		t.Helper()
		r := e.must(append([]string{"check", "--json"}, args...)...)
		var out checkOut
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("check --json: %v %s", err, r.stdout)
		}
		for _, s := range []string{c.Secret, free.Secret} {
			if strings.Contains(r.stdout+r.stderr, s[3:]) {
				t.Errorf("check echoes the secret: %s", r.stdout)
			}
		}
		return out, r
	}
	for _, tc := range []struct {
		args   []string
		status int
		err    string
		reason string
	}{
		{[]string{"--key", c.Secret, "--origin", "https://mysite.tn"}, 200, "", "origin_matched"},
		{[]string{"--key", c.Secret, "--origin", "https://evil.com"}, 403, "domain not authorized", "domain_not_authorized"},
		{[]string{"--key", c.Secret, "--origin", "https://mysite.tn.evil.com"}, 403, "domain not authorized", "domain_not_authorized"},
		{[]string{"--key", c.Secret, "--referer", "https://mysite.tn/page"}, 200, "", "referer_matched"},
		{[]string{"--key", c.Secret}, 200, "", "no_origin_or_referer"},
		{[]string{"--key", c.Secret, "--origin", "https://mysite.tn", "--http"}, 403, "https required", "https_required"},
		{[]string{"--key", free.Secret, "--origin", "https://anything.example"}, 200, "", "key_unrestricted"},
		{[]string{"--key", ""}, 401, "missing api_key", "missing_api_key"},
		{[]string{"--key", "ak_" + strings.Repeat("0", 32)}, 401, "invalid api_key", "unknown_api_key"},
		{[]string{"--key", strings.ToUpper(c.Secret)}, 401, "invalid api_key", "malformed_api_key"},
	} {
		out, _ := check(tc.args...)
		if out.Status != tc.status || out.Error != tc.err || out.Reason != tc.reason {
			t.Errorf("check %q = %+v, want %d %q %s", tc.args[2:], out, tc.status, tc.err, tc.reason)
		}
	}
	out, _ := check("--key", c.Secret, "--origin", "https://evil.com")
	if out.Host != "evil.com" || out.Key == nil || out.Key.ID != c.Key.ID {
		t.Errorf("check names host %q key %+v", out.Host, out.Key)
	}
	// Disabled: explained, with the next step.
	e.must("keys", "disable", c.Key.ID, "--yes")
	r := e.runWith(opts{outTTY: true}, "check", "--key", c.Secret, "--origin", "https://mysite.tn")
	e.want(r, ExitOK, `401 {"error":"api_key disabled"}`, "key_disabled", "step 4", "tmaps keys enable "+c.Key.ID)
	if strings.Contains(r.stdout+r.stderr, c.Secret[3:]) {
		t.Error("check echoes the secret")
	}
	// Hostile header values are escaped on the terminal.
	e.must("keys", "enable", c.Key.ID)
	r = e.runWith(opts{outTTY: true}, "check", "--key", c.Secret, "--origin", "https://ev\x1b[2Jil.com")
	if strings.ContainsRune(r.stdout, 0x1b) {
		t.Errorf("raw escape in %q", r.stdout)
	}
}

func TestAudit(t *testing.T) {
	e := newEnv(t)
	c := e.create("web", "mysite.tn")
	e.must("keys", "rename", c.Key.ID, "web app")
	e.must("keys", "disable", c.Key.ID, "--yes")
	r := e.must("audit", "--json")
	var entries []model.AuditEntry
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, en := range entries {
		actions = append(actions, en.Action)
		if en.Actor == "" || en.Actor == "unknown" {
			t.Errorf("entry without the OS user as actor: %+v", en)
		}
	}
	want := []string{"disable", "rename", "link", "domain.add", "create"}
	if !slices.Equal(actions, want) {
		t.Errorf("audit actions %v, want %v (newest first)", actions, want)
	}
	// --object by key reference or by domain name; --limit; --actor.
	for _, obj := range []string{"web app", c.Key.ID, "key:" + c.Key.ID, c.Key.Prefix} {
		r := e.must("audit", "--object", obj)
		if n := strings.Count(r.stdout, "\n"); n != 4 {
			t.Errorf("audit --object %q: %d lines\n%s", obj, n, r.stdout)
		}
	}
	if r := e.must("audit", "--object", "MYSITE.tn"); strings.Count(r.stdout, "\n") != 1 || !strings.Contains(r.stdout, "domain.add") {
		t.Errorf("audit --object domain: %q", r.stdout)
	}
	if r := e.must("audit", "--limit", "2"); strings.Count(r.stdout, "\n") != 2 {
		t.Errorf("audit --limit 2: %q", r.stdout)
	}
	if r := e.must("audit", "--actor", "nobody"); r.stdout != "" {
		t.Errorf("audit --actor nobody: %q", r.stdout)
	}
	e.want(e.run("audit", "--object", "not a thing!"), ExitUsage, "neither a key nor a domain")
	r = e.runWith(opts{outTTY: true}, "audit")
	if !strings.HasPrefix(r.stdout, "TIME") || !strings.Contains(r.stdout, `web → web app`) {
		t.Errorf("audit (terminal):\n%s", r.stdout)
	}
}

func TestConfigOrder(t *testing.T) {
	e := newEnv(t)
	flagDB := filepath.Join(t.TempDir(), "flag.db")
	e.must("--db", flagDB, "keys", "create", "--name", "in flag db")
	if len(e.keys()) != 0 {
		t.Error("--db did not win over TMAPS_DB")
	}
	e.must("keys", "create", "--name", "in env db")
	if ks := e.keys(); len(ks) != 1 || ks[0].Name != "in env db" {
		t.Errorf("TMAPS_DB not used: %+v", ks)
	}
	// Without either: $XDG_DATA_HOME/tmaps/console.db, else ~/.local/share/tmaps.
	delete(e.vars, "TMAPS_DB")
	e.must("keys", "create", "--name", "default")
	e.db = filepath.Join(e.home, ".local", "share", "tmaps", "console.db")
	if ks := e.keys(); len(ks) != 1 || ks[0].Name != "default" {
		t.Errorf("default store: %+v", ks)
	}
	xdg := t.TempDir()
	e.vars["XDG_DATA_HOME"] = xdg
	e.must("keys", "create", "--name", "xdg")
	e.db = filepath.Join(xdg, "tmaps", "console.db")
	if ks := e.keys(); len(ks) != 1 || ks[0].Name != "xdg" {
		t.Errorf("XDG store: %+v", ks)
	}
	e.want(e.run("--db", "", "keys", "list"), ExitUsage, "--db needs a file path")
	e.want(e.run("--demo", "--db", flagDB, "keys", "list"), ExitUsage, "throw-away")
}

func TestLockedStore(t *testing.T) {
	e := newEnv(t)
	e.create("x")
	st := e.open() // holds the file lock
	defer st.Close()
	e.want(e.run("keys", "list"), ExitError, "in use by another process", "--api")
}

func TestDemoFlag(t *testing.T) {
	e := newEnv(t)
	r := e.must("--demo", "keys", "list", "--json")
	var list []keyJSON
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) < 12 {
		t.Fatalf("--demo keys list: %v, %d keys", err, len(list))
	}
	// Nothing reaches the real store.
	if len(e.keys()) != 0 {
		t.Error("--demo wrote to the local store")
	}
	e.want(e.run("--demo", "keys", "show", "Production frontend"), ExitError, "matches 2 keys")
}

// TestDemoNow: TMAPS_DEMO_NOW makes --demo reproducible (the README's
// screenshots): the same time gives the same keys, prefixes and ids; the
// history ends at that time; a value that is not a time is a usage error.
func TestDemoNow(t *testing.T) {
	e := newEnv(t)
	list := func() (string, []keyJSON) {
		t.Helper()
		r := e.must("--demo", "keys", "list", "--json")
		var keys []keyJSON
		if err := json.Unmarshal([]byte(r.stdout), &keys); err != nil || len(keys) < 12 {
			t.Fatalf("--demo keys list: %v, %d keys", err, len(keys))
		}
		return r.stdout, keys
	}
	random, _ := list()
	if again, _ := list(); again == random {
		t.Fatal("two demo stores without TMAPS_DEMO_NOW have the same secrets: the test cannot tell")
	}
	at := time.Date(2026, 6, 15, 23, 30, 0, 0, time.UTC)
	e.vars["TMAPS_DEMO_NOW"] = at.Format(time.RFC3339)
	first, keys := list()
	if second, _ := list(); second != first {
		t.Errorf("two demo stores at the same TMAPS_DEMO_NOW differ:\n%s\n%s", first, second)
	}
	for _, k := range keys {
		if k.Created.After(at) || k.Created.Before(at.AddDate(0, 0, -40)) {
			t.Errorf("%s created %v, not in the 40 days before %v", k.Name, k.Created, at)
		}
	}
	e.vars["TMAPS_DEMO_NOW"] = "2026-06-15T10:30:00Z"
	if other, _ := list(); other == first {
		t.Error("another TMAPS_DEMO_NOW gives the same demo")
	}
	e.vars["TMAPS_DEMO_NOW"] = "yesterday"
	e.want(e.run("--demo", "keys", "list"), ExitUsage, "TMAPS_DEMO_NOW", "RFC 3339")
}

func TestIsTerminal(t *testing.T) {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for name, v := range map[string]any{"/dev/null": devnull, "pipe": w, "buffer": &bytes.Buffer{}, "nil file": (*os.File)(nil)} {
		if isTerminal(v) {
			t.Errorf("%s counts as a terminal", name)
		}
	}
}

// Ctrl-C at a prompt (the context ends) refuses instead of hanging.
func TestPromptInterrupted(t *testing.T) {
	e := newEnv(t)
	c := e.create("svc")
	pr, pw := io.Pipe() // nobody ever answers
	defer pw.Close()
	for _, args := range [][]string{{"keys", "disable", c.Key.ID}, {"keys", "revoke", c.Key.ID}} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		r := e.runWith(opts{inTTY: true, in: pr, ctx: ctx}, args...)
		cancel()
		e.want(r, ExitRefused, "nothing changed")
	}
	if k := e.key(c.Key.ID); k.Status != model.Active {
		t.Errorf("status %s after interrupted prompts", k.Status)
	}
}

func TestUnknownCommandSuggests(t *testing.T) {
	e := newEnv(t)
	e.want(e.run("kyes", "list"), ExitUsage, `did you mean "keys"?`)
	e.want(e.run("domains", "lst"), ExitUsage, `did you mean "list"?`)
}

// tmaps audit --text and --before page and search the whole log.
func TestAuditTextAndBefore(t *testing.T) {
	e := newEnv(t)
	c := e.create("web", "mysite.tn")
	e.must("keys", "rename", c.Key.ID, "Web App")
	e.must("keys", "disable", c.Key.ID, "--yes")
	var all, page, found []model.AuditEntry
	if err := json.Unmarshal([]byte(e.must("audit", "--json").stdout), &all); err != nil {
		t.Fatal(err)
	}
	r := e.must("audit", "--json", "--limit", "2", "--before", strconv.FormatUint(all[1].Seq, 10))
	if err := json.Unmarshal([]byte(r.stdout), &page); err != nil {
		t.Fatal(err)
	}
	if len(page) != 2 || page[0].Seq != all[2].Seq || page[1].Seq != all[3].Seq {
		t.Fatalf("--before --limit 2: %+v", page)
	}
	r = e.must("audit", "--json", "--text", "WEB APP")
	if err := json.Unmarshal([]byte(r.stdout), &found); err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Action != model.AuditRename {
		t.Fatalf("--text: %+v", found)
	}
}

// audit --actor finds an SSH actor by its fingerprint alone.
func TestAuditActorFingerprint(t *testing.T) {
	e := newEnv(t)
	st, err := bolt.Open(e.db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const fp = "SHA256:uJ3tX8bE5y0xkq2P1wF6dS9mR4vL7cN0aZ2hG5jK8oQ"
	if _, _, err := st.CreateKey(store.WithActor(context.Background(), "ssh:alice "+fp), "by ssh", model.Policy{}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	r := e.run("audit", "--actor", fp)
	if r.code != 0 || !strings.Contains(r.stdout, "ssh:alice "+fp) || !strings.Contains(r.stdout, "by ssh") {
		t.Fatalf("audit --actor FINGERPRINT: %s", r)
	}
}

// --db (or TMAPS_DB) together with --api (or TMAPS_API) names two stores:
// a usage error, nothing opened.
func TestDBWithAPI(t *testing.T) {
	e := newEnv(t) // sets TMAPS_DB
	for _, tc := range []struct {
		args []string
		vars map[string]string
		want string
	}{
		{[]string{"--api", "http://127.0.0.1:1", "keys", "list"}, nil, "TMAPS_DB"},
		{[]string{"--db", e.db, "--api", "http://127.0.0.1:1", "keys", "list"}, nil, "--db"},
		{[]string{"--db", e.db, "keys", "list"}, map[string]string{"TMAPS_API": "http://127.0.0.1:1", "TMAPS_DB": ""}, "TMAPS_API"},
	} {
		for k, v := range tc.vars {
			e.vars[k] = v
		}
		r := e.run(tc.args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "one store") {
			t.Errorf("%v %v: %s", tc.args, tc.vars, r)
		}
	}
	if _, err := os.Stat(e.db); err == nil {
		t.Error("the local store was created")
	}
}

// Confirmations of changes are messages: on stderr, stdout left empty
// (docs/cli.md, "Output"); --json puts the changed object on stdout.
func TestChangeMessagesOnStderr(t *testing.T) {
	e := newEnv(t)
	e.must("keys", "create", "--name", "msg")
	e.must("domains", "add", "msg.tn")
	for _, args := range [][]string{
		{"keys", "rename", "msg", "msg2"},
		{"keys", "link", "msg2", "msg.tn"},
		{"keys", "unlink", "msg2", "msg.tn", "--yes"},
		{"keys", "disable", "msg2", "--yes"},
		{"keys", "enable", "msg2"},
		{"keys", "revoke", "msg2", "--confirm", "msg2"},
		{"domains", "delete", "msg.tn", "--yes"},
	} {
		r := e.must(args...)
		if r.stdout != "" || r.stderr == "" {
			t.Errorf("%v: stdout %q, stderr %q", args, r.stdout, r.stderr)
		}
	}
	r := e.must("domains", "add", "json.tn", "--json")
	if !strings.HasPrefix(r.stdout, "{") {
		t.Errorf("--json: stdout %q", r.stdout)
	}
}
