package server_test

// Tests of server.Daemon in this process, without the binary: start,
// ready, components, reload and ordered shutdown.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tmaps/console/internal/testkit"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/server"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
)

// recorder keeps what a daemon told its service manager and its stdout.
type recorder struct {
	mu     sync.Mutex
	states []string
}

func (r *recorder) notify(s string) {
	r.mu.Lock()
	r.states = append(r.states, s)
	r.mu.Unlock()
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.states...)
}

// probe is a component that records its lifecycle in a shared log and
// reads the store when it stops (which must still be open then).
type probe struct {
	name     string
	log      *recorder
	env      server.Env
	startErr error
	reloads  int
	stopRead error
}

func (p *probe) Start(context.Context) error {
	p.log.notify("start " + p.name)
	return p.startErr
}

func (p *probe) Stop(ctx context.Context) error {
	_, p.stopRead = p.env.Store.Keys(ctx)
	p.log.notify("stop " + p.name)
	return nil
}

func (p *probe) Reload(context.Context) error {
	p.reloads++
	p.log.notify("reload " + p.name)
	return nil
}

func (p *probe) Announce() string { return "probe " + p.name }

func (p *probe) build(env server.Env) (server.Component, error) {
	p.env = env
	return p, nil
}

func boltOpener(path string) server.StoreOpener {
	return func(context.Context) (server.DaemonStore, error) {
		return bolt.Open(path, bolt.Options{})
	}
}

func TestDaemonLifecycle(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "console.db")
	st, err := bolt.Open(db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, token, err := st.CreateToken(ctx, "ops", model.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := st.CreateKey(ctx, "lifecycle", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	events := &recorder{}
	a := &probe{name: "a", log: events}
	b := &probe{name: "b", log: events}
	var out testkit.SyncBuffer
	d, err := server.NewDaemon(server.DaemonConfig{
		OpenStore: boltOpener(db), Location: db, Listen: "127.0.0.1:0", AllowHTTP: true,
		Components: []server.ComponentFunc{a.build, b.build},
		Stdout:     &out, Notify: events.notify, FlushEvery: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if want := "ready " + d.URL() + "\nprobe a\nprobe b\n"; out.String() != want {
		t.Fatalf("stdout %q, want %q", out.String(), want)
	}
	// The store is the daemon's: another open is refused while it runs.
	if _, err := bolt.Open(db, bolt.Options{Timeout: 50 * time.Millisecond}); err == nil {
		t.Fatal("the store opened twice")
	}
	req, _ := http.NewRequest("GET", d.URL()+"/v1/keys", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /v1/keys: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get(d.URL() + "/v1/authorize?api_key=" + secret)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("gate: %v %v", resp, err)
	}
	resp.Body.Close()

	if err := d.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if a.reloads != 1 || b.reloads != 1 {
		t.Fatalf("reloads: a %d b %d", a.reloads, b.reloads)
	}
	if err := d.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := d.Shutdown(); err != nil {
		t.Fatalf("a second Shutdown: %v", err)
	}
	if a.stopRead != nil || b.stopRead != nil {
		t.Fatalf("a component stopped after the store closed: %v %v", a.stopRead, b.stopRead)
	}

	// Components start in order before READY, reload inside RELOADING …
	// READY, and stop in reverse order after STOPPING.
	got := events.list()
	if len(got) == 10 && strings.HasPrefix(got[3], "RELOADING=1\nMONOTONIC_USEC=") {
		got[3] = "RELOADING"
	}
	want := "start a,start b,READY=1,RELOADING,reload a,reload b,READY=1,STOPPING=1,stop b,stop a"
	if strings.Join(got, ",") != want {
		t.Fatalf("events %q,\nwant %s", got, want)
	}

	// The store is closed (the lock is free) and the final flush counted
	// the gate request.
	st, err = bolt.Open(db, bolt.Options{Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("the store is still held after Shutdown: %v", err)
	}
	defer st.Close()
	k, err := st.KeyByDigest(ctx, model.DigestOf(secret))
	if err != nil || k.LastUsed.IsZero() {
		t.Fatalf("the final flush did not record the gate request: %+v %v", k, err)
	}
}

// A failed start stops what had started and releases the store.
func TestDaemonStartFailureReleasesTheStore(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "console.db")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	for _, tc := range []struct {
		name   string
		listen string
		failB  error
		want   string
		events []string
	}{
		{"component", "127.0.0.1:0", errors.New("b cannot start"), "b cannot start", []string{"start a", "start b", "stop a"}},
		{"listen", busy.Addr().String(), nil, "pick another with --listen", []string{"start a", "start b", "stop b", "stop a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events := &recorder{}
			a := &probe{name: "a", log: events}
			b := &probe{name: "b", log: events, startErr: tc.failB}
			d, err := server.NewDaemon(server.DaemonConfig{
				OpenStore: boltOpener(db), Listen: tc.listen, AllowHTTP: true,
				Components: []server.ComponentFunc{a.build, b.build}, Notify: events.notify,
			})
			if err != nil {
				t.Fatal(err)
			}
			err = d.Start(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start: %v, want %q", err, tc.want)
			}
			if got := events.list(); strings.Join(got, ",") != strings.Join(tc.events, ",") {
				t.Fatalf("events %q, want %q (and no READY=1)", got, tc.events)
			}
			st, err := bolt.Open(db, bolt.Options{Timeout: 50 * time.Millisecond})
			if err != nil {
				t.Fatalf("the store is still held after a failed start: %v", err)
			}
			st.Close()
			if err := d.Shutdown(); err != nil {
				t.Fatalf("Shutdown after a failed start: %v", err)
			}
		})
	}
}

// Run shuts down when its context ends and reloads on each signal.
func TestDaemonRun(t *testing.T) {
	db := filepath.Join(t.TempDir(), "console.db")
	events := &recorder{}
	a := &probe{name: "a", log: events}
	d, err := server.NewDaemon(server.DaemonConfig{
		OpenStore: boltOpener(db), Listen: "127.0.0.1:0", AllowHTTP: true,
		Components: []server.ComponentFunc{a.build}, Notify: events.notify,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	reload := make(chan os.Signal)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, reload) }()
	waitFor(t, func() bool { return len(events.list()) >= 2 })
	reload <- os.Interrupt // any value: Run does not look at it
	waitFor(t, func() bool { return a.reloadsSeen(events) == 1 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if got := events.list(); got[len(got)-1] != "stop a" {
		t.Fatalf("events %q", got)
	}
}

func (p *probe) reloadsSeen(r *recorder) int {
	n := 0
	for _, s := range r.list() {
		if s == "reload "+p.name {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// servedCert returns the certificate the daemon presents on a new
// connection, and that connection.
func servedCert(t *testing.T, addr string) (*x509.Certificate, *tls.Conn) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	return conn.ConnectionState().PeerCertificates[0], conn
}

// Reload swaps the TLS certificate for new connections; an open
// connection goes on; a broken file keeps the previous certificate.
func TestDaemonReloadTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := testkit.SelfSignedCert(t, dir, "old.test")
	d, err := server.NewDaemon(server.DaemonConfig{
		OpenStore: boltOpener(filepath.Join(dir, "console.db")), Listen: "127.0.0.1:0",
		TLS: &server.TLSFiles{CertFile: certFile, KeyFile: keyFile},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown()
	addr := strings.TrimPrefix(d.URL(), "https://")
	old, conn := servedCert(t, addr)
	defer conn.Close()
	if old.Subject.CommonName != "old.test" {
		t.Fatalf("served %q", old.Subject.CommonName)
	}

	newDir := t.TempDir()
	nc, nk := testkit.SelfSignedCert(t, newDir, "new.test")
	for _, p := range [][2]string{{nc, certFile}, {nk, keyFile}} {
		b, _ := os.ReadFile(p[0])
		if err := os.WriteFile(p[1], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, c2 := servedCert(t, addr); c.Subject.CommonName != "new.test" {
		t.Fatalf("after reload: served %q", c.Subject.CommonName)
	} else {
		c2.Close()
	}
	// The connection opened before the reload still works.
	if _, err := io.WriteString(conn, "GET /v1/authorize HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 12)
	if _, err := io.ReadFull(conn, buf); err != nil || !bytes.HasPrefix(buf, []byte("HTTP/1.1 401")) {
		t.Fatalf("old connection after reload: %q %v", buf, err)
	}

	// A broken certificate file: Reload says so, the new one stays.
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), certFile) {
		t.Fatalf("Reload with a broken certificate: %v", err)
	}
	if c, c2 := servedCert(t, addr); c.Subject.CommonName != "new.test" {
		t.Fatalf("after a failed reload: served %q", c.Subject.CommonName)
	} else {
		c2.Close()
	}
}

// sickStore is a bolt store whose health check can be made to fail.
type sickStore struct {
	*bolt.Store
	sick atomic.Bool
}

func (s *sickStore) Health(ctx context.Context) store.Health {
	if s.sick.Load() {
		return store.Health{Backend: "bolt", Error: "the store cannot be read"}
	}
	return s.Store.Health(ctx)
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: Content-Type %q", url, ct)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return resp.StatusCode
}

// /healthz and /readyz answer without a token; /readyz follows the store,
// the gate index and the shutdown.
func TestDaemonHealth(t *testing.T) {
	db := filepath.Join(t.TempDir(), "console.db")
	var st *sickStore
	d, err := server.NewDaemon(server.DaemonConfig{
		OpenStore: func(context.Context) (server.DaemonStore, error) {
			b, err := bolt.Open(db, bolt.Options{})
			st = &sickStore{Store: b}
			return st, err
		},
		Listen: "127.0.0.1:0", AllowHTTP: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown()

	var live server.Liveness
	if code := getJSON(t, d.URL()+"/healthz", &live); code != 200 || live.Status != "alive" || live.Build.GoVersion == "" || live.Build.Commit == "" {
		t.Fatalf("/healthz: %d %+v", code, live)
	}
	for range 3 {
		if _, _, err := st.CreateKey(ctx, "k", model.Policy{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return d.Gate().Size() == 3 })
	var rd server.Readiness
	if code := getJSON(t, d.URL()+"/readyz", &rd); code != 200 || rd.Status != "ready" || !rd.Store.OK || rd.Store.Backend != "bolt" ||
		!rd.Gate.Loaded || !rd.Gate.Watching || rd.Gate.Keys != 3 || rd.Gate.Version != 3 || rd.Gate.AgeSeconds < 0 || rd.Gate.UpdatedAt.Before(rd.Gate.LoadedAt) {
		t.Fatalf("/readyz: %d %+v", code, rd)
	}

	st.sick.Store(true)
	if code := getJSON(t, d.URL()+"/readyz", &rd); code != 503 || rd.Status != "not ready" || rd.Store.OK || rd.Store.Error == "" {
		t.Fatalf("/readyz with a sick store: %d %+v", code, rd)
	}
	st.sick.Store(false)
	if code := getJSON(t, d.URL()+"/readyz", &rd); code != 200 {
		t.Fatalf("/readyz after the store recovered: %d %+v", code, rd)
	}

	if err := d.Shutdown(); err != nil {
		t.Fatal(err)
	}
	// The gate's watch ends with the store, a moment after Shutdown.
	waitFor(t, func() bool { return !d.Readiness(ctx).Gate.Watching })
	if rd = d.Readiness(ctx); rd.Status != "stopping" || rd.Store.OK {
		t.Fatalf("Readiness after Shutdown: %+v", rd)
	}
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// /metrics: without a token on --metrics-listen only; the API by route
// and status, event streams, the gate, the store, the runtime.
func TestDaemonMetrics(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "console.db")
	st, err := bolt.Open(db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, token, _ := st.CreateToken(ctx, "ops", model.RoleAdmin)
	_, secret, _ := st.CreateKey(ctx, "m", model.Policy{})
	st.Close()
	var out testkit.SyncBuffer
	certFile, keyFile := testkit.SelfSignedCert(t, dir)
	d, err := server.NewDaemon(server.DaemonConfig{
		OpenStore: boltOpener(db), Listen: "127.0.0.1:0", MetricsListen: "127.0.0.1:0", Stdout: &out,
		TLS: &server.TLSFiles{CertFile: certFile, KeyFile: keyFile}, FlushEvery: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown()
	if !strings.Contains(out.String(), "\nmetrics "+d.MetricsURL()+"\n") || !strings.HasPrefix(d.MetricsURL(), "http://127.0.0.1:") {
		t.Fatalf("stdout %q", out.String())
	}
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(certFile)
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	call := func(path, tok string) int {
		req, _ := http.NewRequest("GET", d.URL()+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 3 {
		call("/v1/keys", token)
	}
	call("/v1/keys", "tm_wrong")
	call("/v1/nowhere", token)
	call("/v1/authorize?api_key="+secret, "")
	// On the API's address /metrics still needs a token.
	if code := call("/metrics", ""); code != 401 {
		t.Fatalf("/metrics without a token on the API address: %d", code)
	}
	// An open event stream.
	req, _ := http.NewRequest("GET", d.URL()+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	stream, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	// The gate's flush loop ran at least once.
	waitFor(t, func() bool {
		_, body := get(t, d.MetricsURL(), "")
		return strings.Contains(body, "tmaps_api_event_streams 1") && !strings.Contains(body, "tmaps_gate_usage_flush_duration_seconds_count 0")
	})
	code, body := get(t, d.MetricsURL(), "")
	if code != 200 {
		t.Fatalf("metrics listener: %d %s", code, body)
	}
	for _, want := range []string{
		`tmaps_api_requests_total{code="200",route="GET /v1/keys"} 3`,
		`tmaps_api_requests_total{code="401",route="GET /v1/keys"} 1`,
		`tmaps_api_requests_total{code="401",route="GET /metrics"} 1`,
		`tmaps_api_requests_total{code="404",route="unmatched"} 1`,
		`tmaps_api_request_duration_seconds_count{route="GET /v1/keys"} 4`,
		`tmaps_api_event_streams 1`,
		`tmaps_gate_decisions_total{outcome="allowed",reason="key_unrestricted"} 1`,
		`tmaps_gate_request_duration_seconds_count 1`,
		`tmaps_gate_index_keys 1`,
		`tmaps_gate_index_watching 1`,
		`tmaps_gate_usage_flush_duration_seconds_bucket`,
		`tmaps_store_size_bytes `,
		`tmaps_tls_certificate_expiry_timestamp_seconds `,
		`tmaps_build_info{commit=`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "/v1/authorize") {
		t.Error("the gate's hot path is in the API's request metrics")
	}
	// The metrics listener serves nothing else.
	if code, _ := get(t, strings.TrimSuffix(d.MetricsURL(), "/metrics")+"/v1/keys", token); code != 404 {
		t.Fatalf("the metrics listener serves /v1/keys: %d", code)
	}
	// Reloads are counted by result.
	d.Reload(ctx)
	os.WriteFile(certFile, []byte("junk"), 0o600)
	d.Reload(ctx)
	_, body = get(t, d.MetricsURL(), "")
	for _, want := range []string{`tmaps_reloads_total{result="ok"} 1`, `tmaps_reloads_total{result="error"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
