package cli

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
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tmaps/console/alert"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
)

// hookReceiver is a webhook receiver on a fixed port that can be down
// (nothing listens) or up; it verifies every signature.
type hookReceiver struct {
	t      *testing.T
	addr   string
	secret []byte

	mu       sync.Mutex
	srv      *http.Server
	received map[string]int // alert id → deliveries
	kinds    map[string]model.AlertKind
	badSig   int
}

func (h *hookReceiver) up() {
	h.t.Helper()
	ln, err := net.Listen("tcp", h.addr)
	if err != nil {
		h.t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if err := alert.Verify(h.secret, r.Header.Get(alert.SignatureHeader), body, time.Now(), alert.DefaultTolerance); err != nil {
			h.badSig++
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var a model.Alert
		if err := json.Unmarshal(body, &a); err != nil || a.ID == "" {
			h.t.Errorf("webhook body %q: %v", body, err)
		}
		h.received[a.ID]++
		h.kinds[a.ID] = a.Kind
	})}
	go h.srv.Serve(ln)
}

func (h *hookReceiver) down() {
	h.mu.Lock()
	srv := h.srv
	h.srv = nil
	h.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

func (h *hookReceiver) snapshot() (map[string]int, map[string]model.AlertKind, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r, k := map[string]int{}, map[string]model.AlertKind{}
	for id, n := range h.received {
		r[id] = n
		k[id] = h.kinds[id]
	}
	return r, k, h.badSig
}

// waitFor polls cond until it holds or 30 s pass.
func waitFor(t *testing.T, what string, cond func() bool, context func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\n%s", what, context())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAlertWebhooksAcrossRestarts runs the real binary with a webhook
// whose receiver is down: the alerts are retried, survive a restart of
// the daemon in the store, reach the receiver once it is up, each exactly
// once and signed, and a further restart sends no duplicate.
func TestAlertWebhooksAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "console.db")
	st, err := bolt.Open(db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := store.WithActor(context.Background(), "setup")
	mk := func(name string, p model.Policy) model.Key {
		k, _, err := st.CreateKey(c, name, p)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	revoked := mk("old web", model.Policy{})
	disabled := mk("paused", model.Policy{})
	mk("expiring", model.Policy{Expires: time.Now().Add(72 * time.Hour)})
	later := mk("revoked later", model.Policy{})
	web, webSecret, err := st.CreateKey(c, "web", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddDomain(c, "mysite.tn"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.LinkKey(c, web.ID, "mysite.tn"); err != nil {
		t.Fatal(err)
	}
	last := mk("revoked last", model.Policy{})
	if _, err := st.RevokeKey(c, revoked.ID, "old web"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DisableKey(c, disabled.ID); err != nil {
		t.Fatal(err)
	}
	_, token, err := st.CreateToken(c, "ops", model.RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	secretFile := filepath.Join(dir, "alert.secret")
	secret := "5f1d2c9e8b7a6f5e4d3c2b1a0f9e8d7c"
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rcv := &hookReceiver{t: t, addr: ln.Addr().String(), secret: []byte(secret), received: map[string]int{}, kinds: map[string]model.AlertKind{}}
	ln.Close() // the receiver is down
	t.Cleanup(rcv.down)

	env := append(os.Environ(), "HOME="+dir, "TMAPS_DB=", "TMAPS_API=", "TMAPS_TOKEN=", "XDG_DATA_HOME=")
	args := []string{"--db", db, "--allow-http", "--listen", "127.0.0.1:0", "--alert-webhook", "http://" + rcv.addr + "/tmaps",
		"--alert-secret-file", secretFile, "--alert-retry", "100ms", "--alert-check-every", "200ms",
		"--alert-refused-min", "6", "--flush-every", "100ms"}
	revoke := func(d *daemonProc, k model.Key) {
		t.Helper()
		req, _ := http.NewRequest("POST", d.URL+"/v1/keys/"+k.ID+"/revoke", strings.NewReader(`{"confirm":"`+k.Name+`"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("revoke %s: %s", k.Name, resp.Status)
		}
	}

	// 1. The receiver is down: the alerts are found and retried.
	d := startDaemon(t, env, false, args...)
	revoke(d, later)
	waitFor(t, "failed attempts on the alerts", func() bool {
		return strings.Count(d.logs.String(), "alert delivery failed; will retry") >= 3
	}, d.logs.String)
	d.Stop()
	if got, _, _ := rcv.snapshot(); len(got) != 0 {
		t.Fatalf("received %v while down", got)
	}

	// 2. The receiver is up, the daemon starts again: every alert arrives.
	rcv.up()
	d = startDaemon(t, env, false, args...)
	waitFor(t, "four alerts delivered", func() bool {
		got, _, _ := rcv.snapshot()
		return len(got) == 4
	}, d.logs.String)
	d.Stop()

	// 3. Another restart sends no duplicate; new alerts still arrive: a
	// revoked key, and a burst of requests refused by the gate.
	d = startDaemon(t, env, false, args...)
	revoke(d, last)
	for i := range 8 {
		origin := "https://evil.example"
		if i == 7 {
			origin = "https://copy.example"
		}
		req, _ := http.NewRequest("GET", d.URL+"/v1/authorize?api_key="+webSecret, nil)
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("gate: %s, want 403", resp.Status)
		}
	}
	waitFor(t, "the sixth alert", func() bool {
		got, _, _ := rcv.snapshot()
		return len(got) == 6
	}, d.logs.String)
	// Five more search periods pass: nothing else may arrive.
	time.Sleep(time.Second)
	d.Stop()

	got, kinds, bad := rcv.snapshot()
	if bad != 0 {
		t.Errorf("%d deliveries with a bad signature", bad)
	}
	count := map[model.AlertKind]int{}
	for id, n := range got {
		if n != 1 {
			t.Errorf("alert %s (%s) delivered %d times", id, kinds[id], n)
		}
		count[kinds[id]]++
	}
	if count[model.AlertRevoked] != 3 || count[model.AlertDisabled] != 1 || count[model.AlertExpiring] != 1 || count[model.AlertRefused] != 1 {
		t.Errorf("alerts by kind: %v", count)
	}

	// The history says so too.
	var out, errb strings.Builder
	code := Execute(context.Background(), []string{"alerts", "--db", db, "--json"}, strings.NewReader(""), &out, &errb, func(string) string { return "" })
	var hist []alertJSON
	if code != 0 || json.Unmarshal([]byte(out.String()), &hist) != nil || len(hist) != 6 {
		t.Fatalf("alerts --json: exit %d, %s %s", code, out.String(), errb.String())
	}
	for _, a := range hist {
		// The gate may have flushed the 403s in two batches: the alert
		// has what the store held when it was found, at least 6.
		if a.Kind == model.AlertRefused && (a.KeyID != web.ID || a.Count < 6 || len(a.TopHosts) == 0 || a.TopHosts[0].Host != "evil.example") {
			t.Errorf("burst alert: %+v", a)
		}
		if len(a.Deliveries) != 1 || a.Deliveries[0].Delivered.IsZero() || got[a.ID] != 1 {
			t.Errorf("history of %s: %+v", a.ID, a.Deliveries)
		}
	}
	if strings.Contains(d.logs.String(), secret) || strings.Contains(d.logs.String(), webSecret[3:]) {
		t.Error("a secret reached the log")
	}
}

// TestLeakReportDaemon: the real binary with --leak-report-key and
// --on-leak disable: a signed report disables our key before its answer
// (the gate refuses the key at once), and the leak alert reaches the
// webhook; a forged report changes nothing.
func TestLeakReportDaemon(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "console.db")
	st, err := bolt.Open(db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k, secret, err := st.CreateKey(store.WithActor(context.Background(), "setup"), "web", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	reporter, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&reporter.PublicKey)
	keyFile := filepath.Join(dir, "reporter.pub")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	hookSecret := "a-webhook-secret-of-32-characters"
	secretFile := filepath.Join(dir, "alert.secret")
	os.WriteFile(secretFile, []byte(hookSecret), 0o600)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rcv := &hookReceiver{t: t, addr: ln.Addr().String(), secret: []byte(hookSecret), received: map[string]int{}, kinds: map[string]model.AlertKind{}}
	ln.Close()
	rcv.up()
	t.Cleanup(rcv.down)
	env := append(os.Environ(), "HOME="+dir, "TMAPS_DB=", "TMAPS_API=", "TMAPS_TOKEN=", "XDG_DATA_HOME=")
	d := startDaemon(t, env, false, "--db", db, "--allow-http", "--listen", "127.0.0.1:0", "--leak-report-key", keyFile,
		"--on-leak", "disable", "--alert-webhook", "http://"+rcv.addr+"/hook", "--alert-secret-file", secretFile, "--alert-retry", "100ms")

	report := func(body []byte, signer *ecdsa.PrivateKey) int {
		t.Helper()
		sum := sha256.Sum256(body)
		sig, err := ecdsa.SignASN1(rand.Reader, signer, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("POST", d.URL+"/v1/leaks", bytes.NewReader(body))
		req.Header.Set("Github-Public-Key-Signature", base64.StdEncoding.EncodeToString(sig))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	gate := func() string {
		t.Helper()
		resp, err := http.Get(d.URL + "/v1/authorize?api_key=" + secret)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(b))
	}
	body := []byte(`[{"token":"` + secret + `","type":"tmaps_api_key","url":"https://github.com/octo/app/blob/1/.env","source":"content"}]`)
	forger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if code := report(body, forger); code != http.StatusUnauthorized {
		t.Fatalf("forged report: %d", code)
	}
	if g := gate(); g != "" {
		t.Fatalf("after a forged report the gate says %q, want the key allowed", g)
	}
	if code := report(body, reporter); code != http.StatusOK {
		t.Fatalf("report: %d", code)
	}
	if g := gate(); g != `{"error":"api_key disabled"}` {
		t.Fatalf("right after the report the gate says %q", g)
	}
	waitFor(t, "the leak alert", func() bool {
		got, kinds, _ := rcv.snapshot()
		for id := range got {
			if kinds[id] == model.AlertLeak {
				return true
			}
		}
		return false
	}, d.logs.String)
	d.Stop()
	if strings.Contains(d.logs.String(), secret[3:]) {
		t.Error("the reported secret reached the log")
	}
	var out, errb strings.Builder
	if code := Execute(context.Background(), []string{"keys", "show", k.ID, "--db", db}, strings.NewReader(""), &out, &errb, func(string) string { return "" }); code != 0 ||
		!strings.Contains(out.String(), "leaked\t") || !strings.Contains(out.String(), "https://github.com/octo/app/blob/1/.env") || !strings.Contains(out.String(), "status\tdisabled") {
		t.Fatalf("keys show: %d %s %s", code, out.String(), errb.String())
	}
}
