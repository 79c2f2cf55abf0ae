package server

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/wire"
)

// TestKeyPolicyRoutes: POST /v1/keys takes the policy fields, PATCH
// /v1/keys/{id} changes them (null clears), and every refusal names its
// field and changes nothing.
func TestKeyPolicyRoutes(t *testing.T) {
	f := newFixture(t, Options{})
	status, body := f.do("POST", "/v1/keys", `{"name":"tiles backend","kind":"server","allow_ips":["203.0.113.0/24","2001:db8::1"],"rate":50,"burst":100,"quota":1000000,"owner":"ops","note":"office only","expires":"2030-01-02T03:04:05Z"}`)
	expect(t, "create with a policy", status, body, http.StatusCreated, "")
	created := decodeInto[wire.KeyWithSecret](t, body).Key
	for _, want := range []string{`"kind":"server"`, `"allow_ips":["203.0.113.0/24","2001:db8::1/128"]`, `"rate":50`, `"burst":100`,
		`"quota":1000000`, `"owner":"ops"`, `"note":"office only"`, `"expires":"2030-01-02T03:04:05Z"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("created key %s lacks %s", body, want)
		}
	}
	path := "/v1/keys/" + created.ID
	status, body = f.do("PATCH", path, `{"expires":null,"rate":null,"allow_ips":[],"owner":"maps team","name":"tiles"}`)
	expect(t, "PATCH", status, body, http.StatusOK, "")
	k := decodeInto[wire.Key](t, body)
	if !k.Expires.IsZero() || k.Rate != 0 || k.Burst != 0 || len(k.AllowIPs) != 0 || k.Owner != "maps team" || k.Name != "tiles" ||
		k.Quota != 1000000 || k.Kind != model.KindServer || k.Note != "office only" {
		t.Fatalf("after PATCH: %+v", k)
	}
	if !strings.Contains(string(body), `"allow_ips":[]`) {
		t.Errorf("an empty allowlist is sent as [], not null: %s", body)
	}
	es, err := f.st.Audit(t.Context(), store.AuditQuery{Object: "key:" + created.ID})
	if err != nil {
		t.Fatal(err)
	}
	if es[0].Actor != "ci-bot" {
		t.Fatalf("audit actor %q", es[0].Actor)
	}

	before, _ := f.do("GET", path, "")
	_, snap := f.do("GET", path, "")
	for _, c := range []struct {
		body, field string
		status      int
	}{
		{`{"allow_ips":["10.1.2.3/8"]}`, "allow_ips", http.StatusUnprocessableEntity},
		{`{"allow_ips":["mysite.tn"]}`, "allow_ips", http.StatusUnprocessableEntity},
		{`{"kind":"desktop"}`, "kind", http.StatusUnprocessableEntity},
		{`{"expires":"next week"}`, "expires", http.StatusUnprocessableEntity},
		{`{"rate":-1}`, "rate", http.StatusUnprocessableEntity},
		{`{"burst":5,"rate":null}`, "burst", http.StatusUnprocessableEntity},
		{`{"owner":"a\u200fb"}`, "owner", http.StatusUnprocessableEntity},
		{`{"name":""}`, "name", http.StatusUnprocessableEntity},
		{`{"quota":"lots"}`, "quota", http.StatusBadRequest},
		{`{"rate":"fast"}`, "rate", http.StatusBadRequest},
		{`{"name":null}`, "name", http.StatusBadRequest},
	} {
		status, body := f.do("PATCH", path, c.body)
		e := decodeInto[wire.Error](t, body)
		if status != c.status || e.Field != c.field || !strings.Contains(e.Error, c.field) {
			t.Errorf("PATCH %s: %d %s; want %d naming %s", c.body, status, body, c.status, c.field)
		}
	}
	if _, after := f.do("GET", path, ""); string(after) != string(snap) || before != 200 {
		t.Fatalf("refused PATCHes changed the key:\n%s\n%s", snap, after)
	}
	status, body = f.do("PATCH", path, `{"owner":"x","admin":true}`)
	expect(t, "PATCH with an unknown field", status, body, http.StatusBadRequest, wire.CodeBadRequest)
	status, body = f.do("PATCH", "/v1/keys/k000000000000", `{"owner":"x"}`)
	expect(t, "PATCH of an unknown key", status, body, http.StatusNotFound, "key_not_found")
	status, body = f.do("POST", "/v1/keys", `{"kind":"server"}`)
	expect(t, "create without a name", status, body, http.StatusUnprocessableEntity, "name_empty")
	status, body = f.do("POST", "/v1/keys", `{"name":"x","allow_ips":["300.1.1.1"]}`)
	expect(t, "create with a bad address", status, body, http.StatusUnprocessableEntity, "invalid")

	// Rotation with a grace period.
	status, body = f.do("POST", path+"/rotate", `{"expire_old_in":"24h"}`)
	expect(t, "rotate with grace", status, body, http.StatusCreated, "")
	nk := decodeInto[wire.KeyWithSecret](t, body).Key
	if nk.Quota != 1000000 || !nk.Expires.IsZero() {
		t.Fatalf("the new key's policy: %+v", nk.Policy)
	}
	_, body = f.do("GET", path, "")
	old := decodeInto[wire.Key](t, body)
	if left := time.Until(old.Expires); left < 23*time.Hour || left > 25*time.Hour {
		t.Fatalf("the old key expires in %v; want 24 h", left)
	}
	status, body = f.do("POST", "/v1/keys/"+nk.ID+"/rotate", `{"expire_old_in":"soon"}`)
	expect(t, "rotate with a bad grace", status, body, http.StatusUnprocessableEntity, "invalid")
	if e := decodeInto[wire.Error](t, body); e.Field != "expire_old_in" {
		t.Fatalf("bad grace error %+v", e)
	}
	status, _ = f.do("POST", "/v1/keys/"+nk.ID+"/revoke", `{"confirm":"tiles"}`)
	if status != 200 {
		t.Fatalf("revoke: %d", status)
	}
	status, body = f.do("PATCH", "/v1/keys/"+nk.ID, `{"expires":null}`)
	expect(t, "PATCH of a revoked key", status, body, http.StatusConflict, "key_revoked")
}
