package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// reporter is a secret-scanning partner: a P-256 key pair.
type reporter struct {
	priv *ecdsa.PrivateKey
	pem  []byte
}

func newReporter(t *testing.T) reporter {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return reporter{priv: priv, pem: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}
}

func (rp reporter) sign(t *testing.T, body []byte) string {
	t.Helper()
	sum := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, rp.priv, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func (f *fixture) report(body []byte, sig string) (int, []byte) {
	f.t.Helper()
	req, err := http.NewRequest("POST", f.ts.URL+"/v1/leaks", bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(LeakKeyIDHeader, "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a")
	if sig != "" {
		req.Header.Set(LeakSignatureHeader, sig)
	}
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func leakBody(t *testing.T, items ...map[string]string) []byte {
	t.Helper()
	b, err := json.Marshal(items)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLeakReports: a signed report marks our key leaked (audit, alert,
// the Leaked field over the API); forged, tampered and unsigned reports
// change nothing; a replay is harmless; unknown tokens get the very same
// answer as ours.
func TestLeakReports(t *testing.T) {
	github := newReporter(t)
	keys, err := ParseLeakKeys(github.pem)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, Options{LeakKeys: keys})
	c := store.WithActor(context.Background(), "ops")
	k, secret, err := f.st.CreateKey(c, "web", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	url := "https://github.com/octo/app/blob/0123/.env"
	ours := leakBody(t, map[string]string{"token": secret, "type": "tmaps_api_key", "url": url, "source": "content"})
	unknown := leakBody(t, map[string]string{"token": model.NewSecret(), "type": "tmaps_api_key", "url": url, "source": "content"})
	auditLen := func() int {
		es, _ := f.st.Audit(c, store.AuditQuery{})
		return len(es)
	}
	before := auditLen()

	// Refused: no signature, a forger's key, a tampered body.
	forger := newReporter(t)
	tampered := bytes.Replace(ours, []byte(".env"), []byte(".enw"), 1)
	for name, req := range map[string]struct {
		body []byte
		sig  string
	}{
		"unsigned":   {ours, ""},
		"garbage":    {ours, "not base64!"},
		"forged":     {ours, forger.sign(t, ours)},
		"tampered":   {tampered, github.sign(t, ours)},
		"other body": {unknown, github.sign(t, ours)},
	} {
		status, body := f.report(req.body, req.sig)
		if status != http.StatusUnauthorized || !strings.Contains(string(body), `"invalid signature"`) {
			t.Errorf("%s: %d %s", name, status, body)
		}
	}
	if got, _ := f.st.Key(c, k.ID); !got.Leaked.IsZero() || auditLen() != before {
		t.Fatalf("a refused report changed the store: %+v", got)
	}

	// Unknown tokens: 200 [], and no trace.
	status, unknownAnswer := f.report(unknown, github.sign(t, unknown))
	if status != http.StatusOK || strings.TrimSpace(string(unknownAnswer)) != "[]" || auditLen() != before {
		t.Fatalf("unknown tokens: %d %s", status, unknownAnswer)
	}

	// Our token: the same answer, and the key is marked.
	status, oursAnswer := f.report(ours, github.sign(t, ours))
	if status != http.StatusOK || !bytes.Equal(oursAnswer, unknownAnswer) {
		t.Fatalf("our token: %d %q, want exactly the answer to unknown tokens %q", status, oursAnswer, unknownAnswer)
	}
	got, _ := f.st.Key(c, k.ID)
	if got.Leaked.IsZero() || got.LeakURL != url || got.Status != model.Active {
		t.Fatalf("after the report: %+v", got)
	}
	es, _ := f.st.Audit(c, store.AuditQuery{Object: "key:" + k.ID})
	if es[0].Action != model.AuditLeak || es[0].Actor != LeakActor || es[0].After != url {
		t.Fatalf("audit: %+v", es[0])
	}
	as, _ := f.st.Alerts(c, store.AlertQuery{})
	if len(as) != 1 || as[0].Kind != model.AlertLeak || as[0].KeyID != k.ID || as[0].URL != url {
		t.Fatalf("alerts: %+v", as)
	}
	// The mark is on the key over the API.
	status, body := f.do("GET", "/v1/keys/"+k.ID, "")
	if status != 200 || !strings.Contains(string(body), `"leak_url":"`+url+`"`) || !strings.Contains(string(body), `"leaked":"`) {
		t.Fatalf("GET key: %s", body)
	}

	// A replay (same body, same signature) changes nothing.
	n := auditLen()
	sig := github.sign(t, ours)
	for range 3 {
		if status, answer := f.report(ours, sig); status != 200 || !bytes.Equal(answer, unknownAnswer) {
			t.Fatalf("replay: %d %s", status, answer)
		}
	}
	if auditLen() != n {
		t.Fatalf("a replay wrote %d audit entries", auditLen()-n)
	}
	if as, _ := f.st.Alerts(c, store.AlertQuery{}); len(as) != 1 {
		t.Fatalf("a replay added alerts: %d", len(as))
	}

	// A valid signature over a body that is not the format: 400, nothing.
	for _, bad := range []string{`{"token":"x"}`, `[{"token":"` + secret + `","colour":"red"}]`, `[{"token":1}]`, "[]x"} {
		if status, body := f.report([]byte(bad), github.sign(t, []byte(bad))); status != http.StatusBadRequest {
			t.Errorf("body %s: %d %s", bad, status, body)
		}
	}
	// A secret never reaches the log.
	if strings.Contains(f.logs.String(), secret[3:]) {
		t.Error("a reported secret reached the log")
	}
}

// TestLeakReportDisables: with OnLeakDisable an active key a report names
// is disabled before the answer (the daemon's gate: TestLeakReportsDaemon).
func TestLeakReportDisables(t *testing.T) {
	github := newReporter(t)
	keys, err := ParseLeakKeys(github.pem)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, Options{LeakKeys: keys, OnLeakDisable: true})
	c := store.WithActor(context.Background(), "ops")
	k, secret, err := f.st.CreateKey(c, "web", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	body := leakBody(t, map[string]string{"token": secret, "type": "tmaps_api_key", "url": "https://gist.github.com/x", "source": "gist"})
	if status, answer := f.report(body, github.sign(t, body)); status != 200 || strings.TrimSpace(string(answer)) != "[]" {
		t.Fatalf("report: %d %s", status, answer)
	}
	got, _ := f.st.Key(c, k.ID)
	if got.Status != model.Disabled || got.Leaked.IsZero() {
		t.Fatalf("after the report: %+v", got)
	}
	es, _ := f.st.Audit(c, store.AuditQuery{Object: "key:" + k.ID})
	if es[0].Action != "disable" || es[0].Actor != LeakActor {
		t.Fatalf("audit: %+v", es)
	}
}

func TestLeakReportsOff(t *testing.T) {
	f := newFixture(t, Options{})
	status, body := f.report([]byte(`[]`), "MEUCIQ==")
	if status != http.StatusServiceUnavailable || !strings.Contains(string(body), "--leak-report-key") {
		t.Fatalf("without keys: %d %s", status, body)
	}
}

func TestParseLeakKeys(t *testing.T) {
	a, b := newReporter(t), newReporter(t)
	both, err := ParseLeakKeys(append(append([]byte("# GitHub's keys\n"), a.pem...), b.pem...))
	if err != nil || both.Len() != 2 {
		t.Fatalf("two PEM keys: %v", err)
	}
	doc, _ := json.Marshal(map[string]any{"public_keys": []map[string]any{
		{"key_identifier": "id-a", "key": string(a.pem), "is_current": false},
		{"key_identifier": "id-b", "key": string(b.pem), "is_current": true},
	}})
	gh, err := ParseLeakKeys(doc)
	if err != nil || gh.Len() != 2 {
		t.Fatalf("GitHub's JSON: %v", err)
	}
	body := []byte(`[]`)
	for _, lk := range []*LeakKeys{both, gh} {
		if err := lk.Verify("id-b", b.sign(t, body), body); err != nil {
			t.Errorf("b's signature: %v", err)
		}
		if err := lk.Verify("id-b", a.sign(t, body), body); err != nil {
			t.Errorf("a's signature under b's identifier (a rotated key): %v", err)
		}
		if err := lk.Verify("", newReporter(t).sign(t, body), body); err == nil {
			t.Error("a stranger's signature verified")
		}
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	p384PEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	for name, bad := range map[string]string{"empty": "", "not a key": "hello", "json without keys": `{"public_keys":[]}`, "P-384": p384PEM} {
		if _, err := ParseLeakKeys([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
