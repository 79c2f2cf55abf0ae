package cli

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/server"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/remote"
)

var tokenRe = regexp.MustCompile(`^tm_[0-9a-f]{32}$`)

func TestTokensCreateListRevoke(t *testing.T) {
	e := newEnv(t)
	r := e.must("tokens", "create", "ci-bot")
	secret := strings.TrimSpace(r.stdout)
	if !tokenRe.MatchString(secret) || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("piped create must print only the token: %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "shown once") || strings.Contains(r.stderr, secret) {
		t.Fatalf("stderr: %q", r.stderr)
	}
	st := e.open()
	tok, err := st.TokenByDigest(context.Background(), model.DigestOf(secret))
	st.Close()
	if err != nil || tok.Name != "ci-bot" {
		t.Fatalf("the token is not stored by digest: %+v %v", tok, err)
	}

	r = e.runWith(opts{outTTY: true}, "tokens", "create", "second")
	if r.code != 0 || !strings.Contains(r.stdout, "shown once") || !regexp.MustCompile(`tm_[0-9a-f]{32}`).MatchString(r.stdout) {
		t.Fatalf("terminal create: %v", r)
	}

	r = e.must("tokens", "list")
	if !strings.Contains(r.stdout, "ci-bot\t"+secret[:11]) || strings.Contains(r.stdout, secret) {
		t.Fatalf("list: %q", r.stdout)
	}
	r = e.must("tokens", "list", "--json")
	var ts []store.Token
	if err := json.Unmarshal([]byte(r.stdout), &ts); err != nil || len(ts) != 2 || strings.Contains(r.stdout, secret[3:]) {
		t.Fatalf("list --json: %q %v", r.stdout, err)
	}

	e.want(e.run("tokens", "create", "ci-bot"), ExitError, "already exists")
	e.want(e.run("tokens", "create", "bad\x1bname"), ExitError, "token name contains U+001B escape")
	e.want(e.run("tokens", "create"), ExitUsage, "missing argument")

	r = e.must("tokens", "revoke", "ci-bot")
	if !strings.Contains(r.stderr, "Revoked token") || r.stdout != "" {
		t.Fatalf("revoke: %v", r)
	}
	e.want(e.run("tokens", "revoke", "ci-bot"), ExitRefused, "no token named")
	st = e.open()
	_, err = st.TokenByDigest(context.Background(), model.DigestOf(secret))
	st.Close()
	if err == nil {
		t.Fatal("a revoked token is still valid")
	}
}

func TestServeUsageErrors(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--listen", "127.0.0.1:0"}, "--allow-http"},
		{[]string{"serve", "--tls-cert", "c.pem"}, "--tls-key"},
		{[]string{"serve", "--allow-http", "--tls-cert", "c.pem", "--tls-key", "k.pem"}, "drop"},
		{[]string{"serve", "--trusted-proxy", "nonsense", "--allow-http"}, "CIDR"},
		{[]string{"serve", "--allow-http", "--log-format", "xml"}, "--log-format"},
		{[]string{"--api", "http://127.0.0.1:1", "serve", "--allow-http"}, "--api"},
		{[]string{"--demo", "serve", "--allow-http"}, "--demo"},
	}
	for _, c := range cases {
		e.want(e.run(c.args...), ExitUsage, c.want)
	}
	e.want(e.run("serve", "--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem"), ExitError, "load the TLS certificate")
}

func TestTokensRoles(t *testing.T) {
	e := newEnv(t)
	e.must("tokens", "create", "dash", "--role", "auditor")
	e.must("tokens", "create", "legacy")
	e.want(e.run("tokens", "create", "x", "--role", "root"), ExitUsage, `unknown role "root"`)
	r := e.must("tokens", "list")
	if !strings.Contains(r.stdout, "\tauditor\t") || !strings.Contains(r.stdout, "legacy\t") || !strings.Contains(r.stdout, "\tadmin\t") {
		t.Fatalf("list shows no roles: %q", r.stdout)
	}
	r = e.must("tokens", "set-role", "dash", "operator")
	if !strings.Contains(r.stderr, `Token "dash" now has the role operator.`) || r.stdout != "" {
		t.Fatalf("set-role: %v", r)
	}
	e.want(e.run("tokens", "set-role", "nobody", "operator"), ExitRefused, "no token named")
	e.want(e.run("tokens", "set-role", "dash", "god"), ExitUsage, `unknown role "god"`)
	e.want(e.run("tokens", "set-role", "dash"), ExitUsage, "missing argument")
	st := e.open()
	ts, _ := st.Tokens(context.Background())
	es, _ := st.Audit(context.Background(), store.AuditQuery{Object: "token:dash"})
	st.Close()
	if len(ts) != 2 || ts[0].Name != "dash" || ts[0].Role != model.RoleOperator || ts[1].Role != model.RoleAdmin {
		t.Fatalf("tokens: %+v", ts)
	}
	if len(es) != 2 || es[0].Action != model.AuditRole || es[0].Before != "auditor" || es[0].After != "operator" || es[0].Actor == "" {
		t.Fatalf("audit: %+v", es)
	}
}

// TestReadOnly: --read-only reads everything and changes nothing; each
// change is refused by name, exits 4 and is audited as refused.
func TestReadOnly(t *testing.T) {
	e := newEnv(t)
	k := e.create("web", "mysite.tn")
	before := e.keys()
	auditBefore := e.auditLen()
	r := e.must("--read-only", "keys", "list", "--json")
	if !strings.Contains(r.stdout, k.Key.ID) {
		t.Fatalf("read-only list: %q", r.stdout)
	}
	e.must("--read-only", "audit")
	e.must("--read-only", "domains", "show", "mysite.tn")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"keys", "create", "--name", "x"}, "forbidden: auditor cannot create keys"},
		{[]string{"keys", "revoke", k.Key.ID, "--confirm", "web"}, "forbidden: auditor cannot revoke keys"},
		{[]string{"keys", "disable", k.Key.ID, "--yes"}, "forbidden: auditor cannot disable keys"},
		{[]string{"domains", "add", "other.tn"}, "forbidden: auditor cannot add domains"},
		{[]string{"tokens", "create", "x"}, "forbidden: auditor cannot create operator tokens"},
	} {
		r := e.run(append([]string{"--read-only"}, c.args...)...)
		if r.code != ExitRefused || r.stderr != "tmaps: "+c.want+"\n" {
			t.Errorf("%v: %v", c.args, r)
		}
	}
	if after := e.keys(); len(after) != len(before) || after[0].Status != model.Active {
		t.Fatalf("read-only changed the keys: %+v", after)
	}
	if n := e.auditLen(); n != auditBefore+5 {
		t.Fatalf("audit grew by %d entries, want the 5 refusals", n-auditBefore)
	}
	e.want(e.run("--read-only", "serve", "--allow-http"), ExitUsage, "--read-only is for the console")
}

// TestConsoleRole: the console is an auditor's with --read-only, the
// token's role over --api, else an admin's.
func TestConsoleRole(t *testing.T) {
	e := newEnv(t)
	st := e.open()
	defer st.Close()
	_, token, err := st.CreateToken(store.WithActor(context.Background(), "t"), "oncall", model.RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(st, server.Options{Tokens: st})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	r, err := remote.New(ts.URL, token, remote.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a := &app{ctx: context.Background()}
	if got := a.consoleRole(st); got != model.RoleAdmin {
		t.Errorf("local console: %s", got)
	}
	if got := a.consoleRole(r); got != model.RoleOperator {
		t.Errorf("console over --api with an operator token: %s", got)
	}
	a.readOnly = true
	if got := a.consoleRole(r); got != model.RoleAuditor {
		t.Errorf("--read-only over --api: %s", got)
	}
	if got := a.consoleRole(store.Guard(st, model.RoleAuditor)); got != model.RoleAuditor {
		t.Errorf("--read-only: %s", got)
	}
}
