package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/wire"
)

// roleRequest builds a request that succeeds for a role allowed to make
// it: a path with the fixture's key, domain and token, and a valid body.
type roleRequest func(rf *roleFixture) (path, body string)

// roleRequests has one valid request per authenticated route. A route
// missing here fails TestRolesEveryRouteEveryRole.
var roleRequests = map[string]roleRequest{
	"GET /v1/keys":  func(*roleFixture) (string, string) { return "/v1/keys", "" },
	"POST /v1/keys": func(*roleFixture) (string, string) { return "/v1/keys", `{"name":"new key"}` },
	"POST /v1/keys/by-digest": func(rf *roleFixture) (string, string) {
		return "/v1/keys/by-digest", `{"digest":"` + rf.key.Digest.String() + `"}`
	},
	"GET /v1/keys/{id}": func(rf *roleFixture) (string, string) { return "/v1/keys/" + rf.key.ID, "" },
	"PATCH /v1/keys/{id}": func(rf *roleFixture) (string, string) {
		return "/v1/keys/" + rf.key.ID, `{"note":"reviewed","rate":5}`
	},
	"POST /v1/keys/{id}/rename": func(rf *roleFixture) (string, string) {
		return "/v1/keys/" + rf.key.ID + "/rename", `{"name":"renamed"}`
	},
	"POST /v1/keys/{id}/disable": func(rf *roleFixture) (string, string) {
		return "/v1/keys/" + rf.key.ID + "/disable", ""
	},
	"POST /v1/keys/{id}/enable": func(rf *roleFixture) (string, string) { return "/v1/keys/" + rf.disabled.ID + "/enable", "" },
	"POST /v1/keys/{id}/revoke": func(rf *roleFixture) (string, string) {
		return "/v1/keys/" + rf.key.ID + "/revoke", `{"confirm":"` + rf.key.Name + `"}`
	},
	"POST /v1/keys/{id}/rotate": func(rf *roleFixture) (string, string) { return "/v1/keys/" + rf.key.ID + "/rotate", "" },
	"POST /v1/keys/{id}/link": func(rf *roleFixture) (string, string) {
		return "/v1/keys/" + rf.key.ID + "/link", `{"domains":["other.tn"]}`
	},
	"POST /v1/keys/{id}/unlink": func(rf *roleFixture) (string, string) {
		return "/v1/keys/" + rf.key.ID + "/unlink", `{"domains":["mysite.tn"]}`
	},
	"GET /v1/keys/{id}/refused-hosts": func(rf *roleFixture) (string, string) { return "/v1/keys/" + rf.key.ID + "/refused-hosts", "" },
	"GET /v1/keys/{id}/matched-hosts": func(rf *roleFixture) (string, string) { return "/v1/keys/" + rf.key.ID + "/matched-hosts", "" },
	"GET /v1/domains":                 func(*roleFixture) (string, string) { return "/v1/domains", "" },
	"POST /v1/domains":                func(*roleFixture) (string, string) { return "/v1/domains", `{"name":"new.tn"}` },
	"GET /v1/domains/{name}":          func(*roleFixture) (string, string) { return "/v1/domains/mysite.tn", "" },
	"DELETE /v1/domains/{name}":       func(*roleFixture) (string, string) { return "/v1/domains/mysite.tn", "" },
	"GET /v1/audit":                   func(*roleFixture) (string, string) { return "/v1/audit", "" },
	"GET /v1/usage":                   func(*roleFixture) (string, string) { return "/v1/usage", "" },
	"POST /v1/usage": func(rf *roleFixture) (string, string) {
		h := time.Now().UTC().Truncate(time.Hour).Format(time.RFC3339)
		return "/v1/usage", `{"deltas":[{"key_id":"` + rf.key.ID + `","hour":"` + h + `","allowed":3}]}`
	},
	"GET /v1/alerts":              func(*roleFixture) (string, string) { return "/v1/alerts?limit=10", "" },
	"GET /v1/hygiene":             func(*roleFixture) (string, string) { return "/v1/hygiene", "" },
	"GET /v1/events":              func(*roleFixture) (string, string) { return "/v1/events", "" },
	"GET /v1/tokens":              func(*roleFixture) (string, string) { return "/v1/tokens", "" },
	"POST /v1/tokens":             func(*roleFixture) (string, string) { return "/v1/tokens", `{"name":"minted","role":"admin"}` },
	"DELETE /v1/tokens/{name}":    func(*roleFixture) (string, string) { return "/v1/tokens/spare", "" },
	"POST /v1/tokens/{name}/role": func(*roleFixture) (string, string) { return "/v1/tokens/spare/role", `{"role":"admin"}` },
	"GET /v1/whoami":              func(*roleFixture) (string, string) { return "/v1/whoami", "" },
	"GET /metrics":                func(*roleFixture) (string, string) { return "/metrics", "" },
	"GET /v1/backup":              func(*roleFixture) (string, string) { return "/v1/backup", "" },
}

// roleFixture is a server with a key linked to mysite.tn, a disabled key,
// a second domain, a spare auditor token and one token per role.
type roleFixture struct {
	*fixture
	key, disabled model.Key
	tokens        map[model.Role]string
}

func newRoleFixture(t *testing.T) *roleFixture {
	t.Helper()
	f := newFixture(t, Options{Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "# metrics\n") }), Heartbeat: time.Hour})
	c := store.WithActor(context.Background(), "setup")
	rf := &roleFixture{fixture: f, tokens: map[model.Role]string{}}
	var err error
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	rf.key, _, err = f.st.CreateKey(c, "web", model.Policy{})
	must(err)
	rf.disabled, _, err = f.st.CreateKey(c, "old", model.Policy{})
	must(err)
	_, err = f.st.DisableKey(c, rf.disabled.ID)
	must(err)
	for _, d := range []string{"mysite.tn", "other.tn"} {
		_, err = f.st.AddDomain(c, d)
		must(err)
	}
	rf.key, err = f.st.LinkKey(c, rf.key.ID, "mysite.tn")
	must(err)
	_, _, err = f.st.CreateToken(c, "spare", model.RoleAuditor)
	must(err)
	for _, r := range model.Roles() {
		_, secret, err := f.st.CreateToken(c, "as-"+string(r), r)
		must(err)
		rf.tokens[r] = secret
	}
	return rf
}

// send makes one request as role; an event stream is cut after its headers.
func (rf *roleFixture) send(role model.Role, method, path, body string) (int, []byte) {
	rf.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rf.ts.URL+path, rd)
	if err != nil {
		rf.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+rf.tokens[role])
	resp, err := rf.ts.Client().Do(req)
	if err != nil {
		rf.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") == "text/event-stream" {
		return resp.StatusCode, nil
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// snapshot is everything a request could change, except the audit log's
// refusals.
func (rf *roleFixture) snapshot() string {
	rf.t.Helper()
	c := context.Background()
	ks, err := rf.st.Keys(c)
	if err != nil {
		rf.t.Fatal(err)
	}
	ds, _ := rf.st.Domains(c)
	ts, _ := rf.st.Tokens(c)
	us, _ := rf.st.Usage(c, store.UsageQuery{})
	es, _ := rf.st.Audit(c, store.AuditQuery{})
	var kept []model.AuditEntry
	for _, e := range es {
		if e.Action != model.AuditRefused {
			kept = append(kept, e)
		}
	}
	b, _ := json.Marshal([]any{ks, ds, ts, us, kept})
	return string(b)
}

func (rf *roleFixture) refusals() []model.AuditEntry {
	rf.t.Helper()
	es, err := rf.st.Audit(context.Background(), store.AuditQuery{})
	if err != nil {
		rf.t.Fatal(err)
	}
	var out []model.AuditEntry
	for _, e := range es {
		if e.Action == model.AuditRefused {
			out = append(out, e)
		}
	}
	return out
}

// TestRolesEveryRouteEveryRole sends every authenticated route of the
// table (the OpenAPI list, see TestOpenAPIMatchesRouter) as every role, on
// a fresh store each time: a role the table allows succeeds; any other
// gets 403 {"error":"forbidden: <role> cannot <action>"}, changes nothing
// and, for a change, is audited as refused under the token's name.
func TestRolesEveryRouteEveryRole(t *testing.T) {
	seen := map[string]bool{}
	allowedBy := map[model.Role]int{}
	for _, rt := range Routes() {
		if !rt.Auth() {
			continue
		}
		route := rt.Method + " " + rt.Path
		seen[route] = true
		build, ok := roleRequests[route]
		if !ok {
			t.Errorf("%s: no request in roleRequests: add one", route)
			continue
		}
		for _, role := range model.Roles() {
			t.Run(fmt.Sprintf("%s %s as %s", rt.Method, rt.Path, role), func(t *testing.T) {
				rf := newRoleFixture(t)
				path, body := build(rf)
				before := rf.snapshot()
				status, resp := rf.send(role, rt.Method, path, body)
				if role.Can(rt.Op) {
					allowedBy[role]++
					if status < 200 || status > 299 {
						t.Fatalf("allowed for %s, got %d %s", role, status, resp)
					}
					if len(rf.refusals()) != 0 {
						t.Fatal("an allowed request was audited as refused")
					}
					return
				}
				want := "forbidden: " + string(role) + " cannot " + rt.Op.Does()
				var e wire.Error
				if status != http.StatusForbidden || json.Unmarshal(resp, &e) != nil || e.Error != want || e.Code != "forbidden" {
					t.Fatalf("got %d %s, want 403 %q", status, resp, want)
				}
				if after := rf.snapshot(); after != before {
					t.Fatalf("a refused request changed the store:\nbefore %s\nafter  %s", before, after)
				}
				refused := rf.refusals()
				if !rt.Op.Changes() {
					return
				}
				if len(refused) != 1 || refused[0].Actor != "as-"+string(role) || refused[0].After != string(rt.Op) {
					t.Fatalf("refusal audit: %+v", refused)
				}
			})
		}
	}
	for route := range roleRequests {
		if !seen[route] {
			t.Errorf("roleRequests has %s, which is not an authenticated route", route)
		}
	}
	// The table is not trivial: admins do everything, auditors only reads.
	if allowedBy[model.RoleAdmin] != len(seen) || allowedBy[model.RoleAuditor] == 0 || allowedBy[model.RoleAuditor] >= allowedBy[model.RoleOperator] {
		t.Fatalf("allowed per role: %v of %d routes", allowedBy, len(seen))
	}
}

// TestWhoAmIAndTokenRoles: a token knows its role; an admin changes
// another token's role, which applies at its next request.
func TestWhoAmIAndTokenRoles(t *testing.T) {
	rf := newRoleFixture(t)
	status, body := rf.send(model.RoleOperator, "GET", "/v1/whoami", "")
	if w := decodeInto[wire.WhoAmI](t, body); status != 200 || w.Role != model.RoleOperator || w.Token != "as-operator" {
		t.Fatalf("whoami: %d %s", status, body)
	}
	status, body = rf.send(model.RoleOperator, "POST", "/v1/keys/"+rf.key.ID+"/disable", "")
	expect(t, "operator disables", status, body, 200, "")
	status, body = rf.send(model.RoleAdmin, "POST", "/v1/tokens/as-operator/role", `{"role":"auditor"}`)
	expect(t, "set role", status, body, 200, "")
	if tok := decodeInto[store.Token](t, body); tok.Role != model.RoleAuditor {
		t.Fatalf("set role answered %s", body)
	}
	status, body = rf.send(model.RoleOperator, "POST", "/v1/keys/"+rf.key.ID+"/enable", "")
	expect(t, "demoted operator enables", status, body, 403, "forbidden")
	status, body = rf.send(model.RoleAdmin, "POST", "/v1/tokens/as-operator/role", `{"role":"root"}`)
	expect(t, "bad role", status, body, 422, "invalid")
	status, body = rf.send(model.RoleAdmin, "POST", "/v1/tokens", `{"name":"x","role":"superuser"}`)
	expect(t, "create with a bad role", status, body, 422, "invalid")
	status, body = rf.send(model.RoleAdmin, "POST", "/v1/tokens", `{"name":"no-role"}`)
	expect(t, "create without a role", status, body, 201, "")
	if tw := decodeInto[wire.TokenWithSecret](t, body); tw.Token.Role != model.RoleAdmin {
		t.Fatalf("a token created without a role is %q, want admin", tw.Token.Role)
	}
	es, _ := rf.st.Audit(context.Background(), store.AuditQuery{Object: "token:as-operator"})
	if len(es) == 0 || es[0].Action != model.AuditRole || es[0].Before != "operator" || es[0].After != "auditor" || es[0].Actor != "as-admin" {
		t.Fatalf("role change audit: %+v", es)
	}
}
