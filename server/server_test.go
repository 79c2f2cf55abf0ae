package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/internal/testkit"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
	"github.com/tmaps/console/store/wire"
)

type fixture struct {
	t     *testing.T
	st    *bolt.Store
	srv   *Server
	ts    *httptest.Server
	token string
	logs  *testkit.SyncBuffer
}

func newFixture(t *testing.T, opt Options) *fixture {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "t.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	_, secret, err := st.CreateToken(context.Background(), "ci-bot", model.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testkit.SyncBuffer{}
	opt.Tokens = st
	opt.Logger = slog.New(NewRedactingHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	srv, err := New(st, opt)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	ts.Config.RegisterOnShutdown(srv.Close)
	t.Cleanup(func() { srv.Close(); ts.Close() })
	return &fixture{t: t, st: st, srv: srv, ts: ts, token: secret, logs: logs}
}

// do sends a request with the fixture's token and returns status and body.
func (f *fixture) do(method, path, body string) (int, []byte) {
	f.t.Helper()
	return f.doAuth(method, path, body, "Bearer "+f.token)
}

func (f *fixture) doAuth(method, path, body, auth string) (int, []byte) {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.ts.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func decodeInto[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// expect checks the status and, for errors, the code.
func expect(t *testing.T, what string, status int, body []byte, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("%s: status %d, want %d; body %s", what, status, wantStatus, body)
	}
	if wantCode != "" {
		e := decodeInto[wire.Error](t, body)
		if e.Code != wantCode || e.Error == "" {
			t.Fatalf("%s: error %+v, want code %q", what, e, wantCode)
		}
	}
}

var secretRe = regexp.MustCompile(`^ak_[0-9a-f]{32}$`)

func TestEveryRouteRequiresToken(t *testing.T) {
	f := newFixture(t, Options{})
	// A token that existed and was revoked must be refused too.
	_, revSecret, err := f.st.CreateToken(context.Background(), "gone", model.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.RevokeToken(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	bads := []string{
		"",
		"Bearer",
		"Bearer ",
		"Bearer tm_00000000000000000000000000000000",
		"Bearer " + f.token + "x",
		"Bearer " + strings.ToUpper(f.token),
		"Basic " + f.token,
		"Bearer " + revSecret,
		f.token,
	}
	n := 0
	for _, rt := range Routes() {
		if !rt.Auth() {
			continue
		}
		path := strings.NewReplacer("{id}", "k000000000000", "{name}", "mysite.tn").Replace(rt.Path)
		for _, auth := range bads {
			status, body := f.doAuth(rt.Method, path, `{"name":"x"}`, auth)
			if status != http.StatusUnauthorized || strings.TrimSpace(string(body)) != `{"error":"unauthorized"}` {
				t.Errorf("%s %s with %q: %d %s, want 401 {\"error\":\"unauthorized\"}", rt.Method, path, auth, status, body)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no authenticated route in the table")
	}
	// The authorized control: the same token works.
	status, _ := f.do("GET", "/v1/keys", "")
	if status != http.StatusOK {
		t.Fatalf("valid token refused: %d", status)
	}
	// The gate's endpoint is open (it checks api_key instead).
	status, _ = f.doAuth("GET", "/v1/authorize", "", "")
	if status == http.StatusUnauthorized {
		t.Fatal("/v1/authorize must not require an operator token")
	}
}

func TestKeyLifecycle(t *testing.T) {
	f := newFixture(t, Options{})
	status, body := f.do("POST", "/v1/keys", `{"name":"  Web app  "}`)
	expect(t, "create", status, body, http.StatusCreated, "")
	created := decodeInto[wire.KeyWithSecret](t, body)
	if !secretRe.MatchString(created.Secret) || created.Key.Name != "Web app" || created.Key.Status != model.Active {
		t.Fatalf("create answered %+v", created)
	}
	if created.Key.Prefix != created.Secret[:model.DisplayPrefixLen] || created.Key.Digest != model.DigestOf(created.Secret).String() {
		t.Fatalf("prefix/digest do not match the secret: %+v", created.Key)
	}
	id := created.Key.ID

	status, body = f.do("GET", "/v1/keys", "")
	expect(t, "list", status, body, http.StatusOK, "")
	list := decodeInto[[]wire.Key](t, body)
	if len(list) != 1 || list[0].ID != id {
		t.Fatalf("list: %s", body)
	}
	if strings.Contains(string(body), created.Secret) {
		t.Fatal("the secret appears in the key list")
	}

	status, body = f.do("POST", "/v1/keys/by-digest", `{"digest":"`+model.DigestOf(created.Secret).String()+`"}`)
	expect(t, "by digest", status, body, http.StatusOK, "")
	if decodeInto[wire.Key](t, body).ID != id {
		t.Fatalf("by digest: %s", body)
	}
	status, body = f.do("POST", "/v1/keys/by-digest", `{"digest":"`+created.Secret+`"}`)
	expect(t, "by digest with a secret", status, body, http.StatusUnprocessableEntity, "invalid")
	if strings.Contains(string(body), created.Secret) {
		t.Fatal("the error echoes the secret")
	}

	status, body = f.do("POST", "/v1/keys/"+id+"/rename", `{"name":"Mobile app"}`)
	expect(t, "rename", status, body, http.StatusOK, "")
	if decodeInto[wire.Key](t, body).Name != "Mobile app" {
		t.Fatalf("rename: %s", body)
	}
	status, body = f.do("POST", "/v1/keys/"+id+"/rename", `{"name":"   "}`)
	expect(t, "rename empty", status, body, http.StatusUnprocessableEntity, "name_empty")

	status, body = f.do("POST", "/v1/keys/"+id+"/disable", "")
	expect(t, "disable", status, body, http.StatusOK, "")
	if decodeInto[wire.Key](t, body).Status != model.Disabled {
		t.Fatalf("disable: %s", body)
	}
	status, body = f.do("POST", "/v1/keys/"+id+"/disable", "{}")
	expect(t, "disable twice", status, body, http.StatusConflict, "already_disabled")
	status, body = f.do("POST", "/v1/keys/"+id+"/enable", "")
	expect(t, "enable", status, body, http.StatusOK, "")
	status, body = f.do("POST", "/v1/keys/"+id+"/enable", "")
	expect(t, "enable twice", status, body, http.StatusConflict, "already_active")

	status, body = f.do("POST", "/v1/keys/"+id+"/rotate", "")
	expect(t, "rotate", status, body, http.StatusCreated, "")
	rot := decodeInto[wire.KeyWithSecret](t, body)
	if !secretRe.MatchString(rot.Secret) || rot.Key.Replaces != id || rot.Key.Name != "Mobile app" {
		t.Fatalf("rotate: %+v", rot)
	}

	status, body = f.do("POST", "/v1/keys/"+id+"/revoke", `{"confirm":"mobile app"}`)
	expect(t, "revoke with a wrong confirmation", status, body, http.StatusConflict, "confirm_mismatch")
	status, body = f.do("POST", "/v1/keys/"+id+"/revoke", "")
	expect(t, "revoke without a body", status, body, http.StatusBadRequest, wire.CodeBadRequest)
	status, body = f.do("GET", "/v1/keys/"+id, "")
	if decodeInto[wire.Key](t, body).Status != model.Active {
		t.Fatal("a refused revoke changed the key")
	}
	status, body = f.do("POST", "/v1/keys/"+id+"/revoke", `{"confirm":"Mobile app"}`)
	expect(t, "revoke", status, body, http.StatusOK, "")
	if decodeInto[wire.Key](t, body).Status != model.Revoked {
		t.Fatalf("revoke: %s", body)
	}
	status, body = f.do("POST", "/v1/keys/"+id+"/enable", "")
	expect(t, "enable revoked", status, body, http.StatusConflict, "key_revoked")
	status, body = f.do("POST", "/v1/keys/"+id+"/rotate", "")
	expect(t, "rotate revoked", status, body, http.StatusConflict, "key_revoked")

	status, body = f.do("GET", "/v1/keys/k999999999999", "")
	expect(t, "unknown key", status, body, http.StatusNotFound, "key_not_found")
	status, body = f.do("POST", "/v1/keys/k999999999999/disable", "")
	expect(t, "disable unknown key", status, body, http.StatusNotFound, "key_not_found")

	// The audit actor is the token's name.
	status, body = f.do("GET", "/v1/audit?object=key:"+id, "")
	expect(t, "audit", status, body, http.StatusOK, "")
	entries := decodeInto[[]model.AuditEntry](t, body)
	if len(entries) < 5 {
		t.Fatalf("audit of the key: %s", body)
	}
	for _, e := range entries {
		if e.Actor != "ci-bot" {
			t.Fatalf("audit actor %q, want the token name ci-bot", e.Actor)
		}
		if strings.Contains(e.Before+e.After, created.Secret) {
			t.Fatal("the audit log holds a secret")
		}
	}
	status, body = f.do("GET", "/v1/audit?object=key:"+id+"&limit=2", "")
	if len(decodeInto[[]model.AuditEntry](t, body)) != 2 {
		t.Fatalf("audit limit: %s", body)
	}
	status, body = f.do("GET", "/v1/audit?limit=-1", "")
	expect(t, "audit bad limit", status, body, http.StatusBadRequest, wire.CodeBadRequest)
	status, body = f.do("GET", "/v1/audit?since=yesterday", "")
	expect(t, "audit bad since", status, body, http.StatusBadRequest, wire.CodeBadRequest)
	status, body = f.do("GET", "/v1/audit?actor=nobody", "")
	if len(decodeInto[[]model.AuditEntry](t, body)) != 0 || strings.TrimSpace(string(body)) != "[]" {
		t.Fatalf("audit of an unknown actor: %s", body)
	}
}

func TestDomainsAndLinks(t *testing.T) {
	f := newFixture(t, Options{})
	status, body := f.do("POST", "/v1/domains", `{"name":"MySite.tn."}`)
	expect(t, "add", status, body, http.StatusCreated, "")
	if d := decodeInto[model.Domain](t, body); d.Name != "mysite.tn" {
		t.Fatalf("add: %s", body)
	}
	status, body = f.do("POST", "/v1/domains", `{"name":"mysite.tn"}`)
	expect(t, "add again", status, body, http.StatusConflict, "domain_exists")
	if e := decodeInto[wire.Error](t, body); e.Domain == nil || e.Domain.Name != "mysite.tn" {
		t.Fatalf("conflict does not carry the existing domain: %s", body)
	}
	status, body = f.do("POST", "/v1/domains", `{"name":"https://mysite.tn"}`)
	expect(t, "add with a scheme", status, body, http.StatusUnprocessableEntity, wire.CodeInvalidDom)
	if e := decodeInto[wire.Error](t, body); !strings.Contains(e.Error, "scheme") || e.DomainProblem == nil {
		t.Fatalf("the domain error is not passed on: %s", body)
	}

	status, body = f.do("POST", "/v1/keys", `{"name":"web"}`)
	id := decodeInto[wire.KeyWithSecret](t, body).Key.ID
	status, body = f.do("POST", "/v1/keys/"+id+"/link", `{"domains":["mysite.tn"]}`)
	expect(t, "link", status, body, http.StatusOK, "")
	if k := decodeInto[wire.Key](t, body); len(k.Domains) != 1 || k.Domains[0] != "mysite.tn" {
		t.Fatalf("link: %s", body)
	}
	status, body = f.do("POST", "/v1/keys/"+id+"/link", `{"domains":["nope.tn"]}`)
	expect(t, "link unknown", status, body, http.StatusNotFound, "domain_not_found")
	status, body = f.do("GET", "/v1/domains/mysite.tn", "")
	if d := decodeInto[model.Domain](t, body); len(d.Keys) != 1 || d.Keys[0] != id {
		t.Fatalf("domain keys: %s", body)
	}
	status, body = f.do("POST", "/v1/keys/"+id+"/unlink", `{"domains":["mysite.tn"]}`)
	expect(t, "unlink", status, body, http.StatusOK, "")
	if k := decodeInto[wire.Key](t, body); len(k.Domains) != 0 {
		t.Fatalf("unlink: %s", body)
	}
	status, body = f.do("GET", "/v1/domains", "")
	if ds := decodeInto[[]model.Domain](t, body); len(ds) != 1 {
		t.Fatalf("domains: %s", body)
	}
	status, body = f.do("DELETE", "/v1/domains/mysite.tn", "")
	expect(t, "delete", status, body, http.StatusOK, "")
	status, body = f.do("DELETE", "/v1/domains/mysite.tn", "")
	expect(t, "delete again", status, body, http.StatusNotFound, "domain_not_found")
	status, body = f.do("GET", "/v1/domains/other.tn", "")
	expect(t, "get unknown", status, body, http.StatusNotFound, "domain_not_found")
}

func TestBadBodies(t *testing.T) {
	f := newFixture(t, Options{MaxBody: 1024})
	cases := []struct {
		body   string
		status int
		code   string
	}{
		{`{"name":`, http.StatusBadRequest, wire.CodeBadRequest},
		{`not json`, http.StatusBadRequest, wire.CodeBadRequest},
		{`{"name":"a","admin":true}`, http.StatusBadRequest, wire.CodeBadRequest},
		{`{"name":5}`, http.StatusBadRequest, wire.CodeBadRequest},
		{`{"name":"a"}{"name":"b"}`, http.StatusBadRequest, wire.CodeBadRequest},
		{``, http.StatusBadRequest, wire.CodeBadRequest},
		{`{"name":"` + strings.Repeat("a", 2000) + `"}`, http.StatusRequestEntityTooLarge, wire.CodeTooLarge},
		{`{"name":"` + strings.Repeat("a", 101) + `"}`, http.StatusUnprocessableEntity, "name_too_long"},
		{`{"name":"bad\u001bname"}`, http.StatusUnprocessableEntity, "name_control"},
	}
	for _, c := range cases {
		status, body := f.do("POST", "/v1/keys", c.body)
		expect(t, "POST /v1/keys "+c.body[:min(len(c.body), 40)], status, body, c.status, c.code)
	}
	status, body := f.do("GET", "/v1/keys", "")
	if strings.TrimSpace(string(body)) != "[]" || status != 200 {
		t.Fatalf("refused bodies changed the store: %s", body)
	}
	status, body = f.do("GET", "/v1/nothing", "")
	expect(t, "unknown route", status, body, http.StatusNotFound, "")
	status, body = f.do("PUT", "/v1/keys", "")
	if status != http.StatusMethodNotAllowed {
		t.Fatalf("PUT /v1/keys: %d %s", status, body)
	}
}

func TestEventsStream(t *testing.T) {
	f := newFixture(t, Options{Heartbeat: 50 * time.Millisecond})
	req, _ := http.NewRequest("GET", f.ts.URL+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+f.token)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := f.ts.Client().Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	status, body := f.do("POST", "/v1/keys", `{"name":"streamed"}`)
	expect(t, "create", status, body, http.StatusCreated, "")
	id := decodeInto[wire.KeyWithSecret](t, body).Key.ID

	sc := bufio.NewScanner(resp.Body)
	deadline := time.AfterFunc(5*time.Second, cancel)
	defer deadline.Stop()
	pings := 0
	for sc.Scan() {
		line := sc.Text()
		if line == ": ping" {
			pings++
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			ev := decodeInto[store.Event](t, []byte(data))
			if ev.Kind == store.EventKey && ev.ID == id {
				return
			}
		}
	}
	t.Fatalf("no key event for %s (pings %d, err %v)", id, pings, sc.Err())
}

func TestEventsEndOnClose(t *testing.T) {
	f := newFixture(t, Options{})
	req, _ := http.NewRequest("GET", f.ts.URL+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+f.token)
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, resp.Body); done <- err }()
	f.srv.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the event stream did not end when the server closed")
	}
}

func TestGateMounts(t *testing.T) {
	f := newFixture(t, Options{
		Authorize: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }),
		Metrics:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "tmaps_gate_decisions_total 3\n") }),
	})
	status, _ := f.doAuth("GET", "/v1/authorize?api_key=ak_00000000000000000000000000000000", "", "")
	if status != http.StatusNoContent {
		t.Fatalf("authorize: %d", status)
	}
	status, body := f.do("GET", "/metrics", "")
	if status != http.StatusOK || !strings.Contains(string(body), "tmaps_gate_decisions_total 3") {
		t.Fatalf("metrics: %d %s", status, body)
	}
}

func TestTokensRoutes(t *testing.T) {
	f := newFixture(t, Options{})
	status, body := f.do("POST", "/v1/tokens", `{"name":"second"}`)
	expect(t, "create token", status, body, http.StatusCreated, "")
	tw := decodeInto[wire.TokenWithSecret](t, body)
	if !strings.HasPrefix(tw.Secret, "tm_") {
		t.Fatalf("token: %s", body)
	}
	status, body = f.do("GET", "/v1/tokens", "")
	if strings.Contains(string(body), tw.Secret) || !strings.Contains(string(body), `"second"`) {
		t.Fatalf("token list: %s", body)
	}
	status, body = f.doAuth("GET", "/v1/keys", "", "Bearer "+tw.Secret)
	expect(t, "new token works", status, body, http.StatusOK, "")
	status, body = f.do("DELETE", "/v1/tokens/second", "")
	expect(t, "revoke token", status, body, http.StatusNoContent, "")
	status, body = f.doAuth("GET", "/v1/keys", "", "Bearer "+tw.Secret)
	expect(t, "revoked token", status, body, http.StatusUnauthorized, "")
	status, body = f.do("DELETE", "/v1/tokens/second", "")
	expect(t, "revoke again", status, body, http.StatusNotFound, "token_not_found")
}

func TestRequestLogsRedactSecrets(t *testing.T) {
	f := newFixture(t, Options{
		Authorize: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }),
	})
	secret := model.NewSecret()
	f.doAuth("GET", "/v1/authorize?api_key="+secret+"&x=1", "", "")
	f.doAuth("GET", "/v1/keys?api_key="+secret, "", "Bearer "+f.token)
	f.doAuth("GET", "/v1/keys?token="+f.token, "", "Bearer "+f.token)
	f.srv.log.Info("oops "+secret, "token", f.token, "err", io.EOF, "nested", slog.GroupValue(slog.String("u", "https://x/?api_key="+secret)))
	out := f.logs.String()
	if !strings.Contains(out, "/v1/authorize") || !strings.Contains(out, "/v1/keys") {
		t.Fatalf("requests were not logged: %s", out)
	}
	for _, s := range []string{secret, secret[3:], f.token, f.token[3:]} {
		if strings.Contains(out, s) {
			t.Fatalf("the log holds a secret %q:\n%s", s, out)
		}
	}
	if !strings.Contains(out, "api_key="+Redacted) {
		t.Fatalf("api_key is not visibly redacted:\n%s", out)
	}
}

func TestRedactString(t *testing.T) {
	s := model.NewSecret()
	cases := map[string]string{
		"GET /x?api_key=" + s + "&b=2":        "GET /x?api_key=REDACTED&b=2",
		"key " + s + " leaked":                "key ak_REDACTED leaked",
		"Authorization: Bearer tm_abc.def":    "Authorization: Bearer REDACTED",
		"/x?API_KEY=whatever%20with%20spaces": "/x?API_KEY=REDACTED",
		"/x?api%5Fkey%3D" + s:                 "/x?api%5Fkey%3DREDACTED",
		"nothing secret here":                 "nothing secret here",
	}
	for in, want := range cases {
		if got := RedactString(in); got != want {
			t.Errorf("RedactString(%q) = %q, want %q", in, got, want)
		}
	}
}

// The event stream outlives the server's read and write timeouts.
func TestEventsOutliveServerTimeouts(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "t.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, token, err := st.CreateToken(context.Background(), "ops", model.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(st, Options{Tokens: st, Heartbeat: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Config.ReadTimeout = 100 * time.Millisecond
	ts.Config.WriteTimeout = 100 * time.Millisecond
	ts.Start()
	defer ts.Close()
	defer srv.Close()
	req, _ := http.NewRequest("GET", ts.URL+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	time.Sleep(400 * time.Millisecond)
	k, _, err := st.CreateKey(context.Background(), "late", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.Contains(sc.Text(), k.ID) {
				got <- true
				return
			}
		}
		got <- false
	}()
	select {
	case ok := <-got:
		if !ok {
			t.Fatal("the stream ended before the event")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event after the server's timeouts passed")
	}
}
