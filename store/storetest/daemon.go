package storetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// DaemonBackend is a store a daemon serves: the data, the operator tokens
// with their roles, and the audit entries that are not changes (refusals).
// The bolt file and the etcd cluster implement it; the remote store does
// not (the daemon it talks to does).
type DaemonBackend interface {
	store.Store
	store.TokenStore
	store.AuditAppender
}

// RunDaemon runs the conformance tests of what a daemon's store adds to
// store.Store, each on a fresh store from open. Run it beside Run.
func RunDaemon(t *testing.T, open func(t *testing.T) DaemonBackend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s DaemonBackend)
	}{
		{"TokenRoles", testTokenRoles},
		{"TokenSetRole", testTokenSetRole},
		{"AppendAudit", testAppendAudit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

func testTokenRoles(t *testing.T, s DaemonBackend) {
	c := ctx(t)
	for _, r := range model.Roles() {
		tok, secret, err := s.CreateToken(c, "t-"+string(r), r)
		if err != nil {
			t.Fatal(err)
		}
		if tok.Role != r || !strings.HasPrefix(secret, "tm_") {
			t.Fatalf("CreateToken(%s) = %+v", r, tok)
		}
		got, err := s.TokenByDigest(c, model.DigestOf(secret))
		if err != nil || got.Role != r || got.Name != "t-"+string(r) {
			t.Fatalf("TokenByDigest = %+v, %v; want role %s", got, err, r)
		}
	}
	ts := r(s.Tokens(c)).must(t)
	if len(ts) != 3 || ts[0].Role != model.RoleAdmin || ts[1].Role != model.RoleAuditor || ts[2].Role != model.RoleOperator {
		t.Fatalf("Tokens = %+v (by name: t-admin, t-auditor, t-operator)", ts)
	}
	for _, bad := range []model.Role{"", "root", "Admin"} {
		if _, _, err := s.CreateToken(c, "bad", bad); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("CreateToken with role %q: %v, want ErrInvalid", bad, err)
		}
	}
	if len(r(s.Tokens(c)).must(t)) != 3 {
		t.Fatal("a refused CreateToken made a token")
	}
}

func testTokenSetRole(t *testing.T, s DaemonBackend) {
	c := ctx(t)
	_, secret, err := s.CreateToken(c, "ops", model.RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	tok := r(s.SetTokenRole(c, "ops", model.RoleAuditor)).must(t)
	if tok.Role != model.RoleAuditor || tok.Name != "ops" {
		t.Fatalf("SetTokenRole = %+v", tok)
	}
	if got := r(s.TokenByDigest(c, model.DigestOf(secret))).must(t); got.Role != model.RoleAuditor {
		t.Fatalf("after SetTokenRole the token is %+v", got)
	}
	// Setting the same role again changes nothing and is not audited.
	r(s.SetTokenRole(c, "ops", model.RoleAuditor)).must(t)
	es := r(s.Audit(c, store.AuditQuery{Object: "token:ops"})).must(t)
	if len(es) != 2 || es[0].Action != model.AuditRole || es[0].Before != "operator" || es[0].After != "auditor" || es[0].Actor != Actor {
		t.Fatalf("audit of token:ops = %+v", es)
	}
	if _, err := s.SetTokenRole(c, "nobody", model.RoleAdmin); !errors.Is(err, store.ErrTokenNotFound) {
		t.Fatalf("SetTokenRole(unknown) = %v", err)
	}
	if _, err := s.SetTokenRole(c, "ops", "superuser"); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("SetTokenRole(bad role) = %v", err)
	}
	if got := r(s.TokenByDigest(c, model.DigestOf(secret))).must(t); got.Role != model.RoleAuditor {
		t.Fatalf("a refused SetTokenRole changed the role to %q", got.Role)
	}
}

func testAppendAudit(t *testing.T, s DaemonBackend) {
	c := ctx(t)
	k, _ := createKey(t, s, "web")
	if err := s.AppendAudit(c, model.AuditRefused, "key:"+k.ID, "", string(model.OpKeysRevoke)); err != nil {
		t.Fatal(err)
	}
	es := r(s.Audit(c, store.AuditQuery{Object: "key:" + k.ID})).must(t)
	if len(es) != 2 || es[0].Action != model.AuditRefused || es[0].After != "keys.revoke" || es[0].Actor != Actor || es[0].Seq <= es[1].Seq {
		t.Fatalf("audit after AppendAudit = %+v", es)
	}
	if got := r(s.Key(c, k.ID)).must(t); got.Status != model.Active || got.Name != "web" {
		t.Fatalf("AppendAudit changed the key: %+v", got)
	}
}
