package e2e

// End-to-end test with a real browser (issue 9, item 17): headless Chromium,
// driven over the DevTools protocol, loads pages from several hosts that
// fetch() the API and embed its tiles through nginx (docs/nginx.md) and the
// gate of a real `tmaps serve`, over TLS. The browser's own Origin and
// Referer headers must get SPEC.md's decisions; the test asserts what the
// page's script observes (status and readable JSON body of a fetch, load or
// error of an image) and what the gate counted (the rule of each decision,
// and the usage per host).

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tmaps/console/internal/testkit"
)

// The test's hosts. Chromium resolves these, and only these, to 127.0.0.1
// (--host-resolver-rules); every other name fails to resolve.
const (
	browserAPIHost  = "api.tmaps.test"
	browserSiteHost = "mysite.tn"
	browserEvilHost = "evil.example"
	browserIDNHost  = "xn--caf-dma.tn" // café.tn
)

// browserPage is the page every host serves: helpers the test calls with
// Evaluate. Each resolves to what a script observes.
const browserPage = `<!doctype html>
<meta charset="utf-8">
<title>tmaps browser test</title>
<script>
async function tryFetch(url, init) {
  try {
    const r = await fetch(url, init);
    return {status: r.status, body: await r.text()};
  } catch (e) {
    return {status: 0, body: "", error: String(e)};
  }
}
function tryImg(url, policy) {
  return new Promise(resolve => {
    const img = document.createElement("img");
    if (policy) img.referrerPolicy = policy;
    img.onload = () => resolve({status: img.naturalWidth, body: "load"});
    img.onerror = () => resolve({status: 0, body: "error"});
    img.src = url;
    document.body.appendChild(img);
  });
}
function tryFrame(url, policy) {
  return new Promise(resolve => {
    window.addEventListener("message", e => resolve(e.data), {once: true});
    const f = document.createElement("iframe");
    f.setAttribute("sandbox", "allow-scripts");
    f.src = "/frame" + (policy ? "?policy=" + policy : "") + "#" + encodeURIComponent(url);
    document.body.appendChild(f);
  });
}
</script>
<body>
`

// browserFrame runs in a sandboxed frame (an opaque origin): it fetches the
// URL in its fragment and posts what it observed to its parent.
const browserFrame = `<!doctype html>
<meta charset="utf-8">
%s
<script>
fetch(decodeURIComponent(location.hash.slice(1)))
  .then(async r => parent.postMessage({status: r.status, body: await r.text(), origin: self.origin}, "*"))
  .catch(e => parent.postMessage({status: 0, body: "", error: String(e), origin: self.origin}, "*"));
</script>
`

// browserResult is what a helper of browserPage resolved to.
type browserResult struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
	Error  string `json:"error"`
	Origin string `json:"origin"`
}

// browserTool finds chromium or fails (TMAPS_SKIP_BROWSER=1 skips, saying so).
func browserTool(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("TMAPS_SKIP_BROWSER") == "1" {
		t.Skip("chromium not found and TMAPS_SKIP_BROWSER=1: the browser end-to-end test did not run")
	}
	t.Fatal("chromium not found: run `make test` (scripts/deps.sh installs it), or set TMAPS_SKIP_BROWSER=1 to skip this test knowingly")
	return ""
}

// spkiHash is the base64 SHA-256 of the certificate's public key, as
// Chromium's --ignore-certificate-errors-spki-list wants it.
func spkiHash(t *testing.T, certFile string) string {
	t.Helper()
	b, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM block", certFile)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

func TestBrowserThroughNginx(t *testing.T) {
	chromium := browserTool(t)
	dir := t.TempDir()
	bin := testkit.Binary(t)
	db := filepath.Join(dir, "console.db")

	stackRun(t, bin, nil, "--db", db, "domains", "add", browserSiteHost)
	stackRun(t, bin, nil, "--db", db, "domains", "add", "café.tn")
	webID, web := stackCreateKey(t, bin, db, "web app")
	stackRun(t, bin, nil, "--db", db, "keys", "link", webID, browserSiteHost)
	cafeID, cafe := stackCreateKey(t, bin, db, "cafe")
	stackRun(t, bin, nil, "--db", db, "keys", "link", cafeID, "café.tn")
	_, server := stackCreateKey(t, bin, db, "backend")
	pausedID, paused := stackCreateKey(t, bin, db, "paused")
	stackRun(t, bin, nil, "--db", db, "keys", "link", pausedID, browserSiteHost)
	stackRun(t, bin, nil, "--db", db, "keys", "disable", pausedID, "--yes")
	token := strings.TrimSpace(string(stackRun(t, bin, nil, "--db", db, "tokens", "create", "browser-e2e")))

	serve := startServe(t, bin, db, "--flush-every", "100ms")
	up := startUpstream(t)
	ngx := startNginx(t, dir, serve, up.Addr(), nginxOptions{
		CertHosts: []string{browserSiteHost, browserEvilHost, browserIDNHost},
	})

	// The pages, on every host, over TLS with nginx's certificate.
	pair, err := tls.LoadX509KeyPair(ngx.Cert, ngx.Key)
	if err != nil {
		t.Fatal(err)
	}
	pages := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case "/":
			fmt.Fprint(w, browserPage)
		case "/frame":
			meta := ""
			if r.URL.Query().Get("policy") == "no-referrer" {
				meta = `<meta name="referrer" content="no-referrer">`
			}
			fmt.Fprintf(w, browserFrame, meta)
		default:
			http.NotFound(w, r)
		}
	}))
	pages.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	pages.StartTLS()
	defer pages.Close()
	pagePort := strconv.Itoa(pages.Listener.Addr().(*net.TCPAddr).Port)

	// Headless Chromium with a fresh profile; it trusts exactly this
	// certificate's key, and resolves the test's hosts to loopback only.
	var rules []string
	for _, h := range []string{browserAPIHost, browserSiteHost, browserEvilHost, browserIDNHost} {
		rules = append(rules, "MAP "+h+" 127.0.0.1")
	}
	rules = append(rules, "MAP * ~NOTFOUND")
	chromeLog := &testkit.SyncBuffer{}
	// The whole browser session has a deadline: a hung browser fails the
	// test instead of the package's timeout.
	testCtx, cancelTest := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancelTest()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(testCtx,
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(filepath.Join(dir, "chromium-profile")),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("host-resolver-rules", strings.Join(rules, ",")),
		chromedp.Flag("ignore-certificate-errors-spki-list", spkiHash(t, ngx.Cert)),
		chromedp.CombinedOutput(chromeLog),
	)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	defer cancelCtx()
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v\n%s", err, chromeLog.Bytes())
	}
	defer func() {
		if t.Failed() {
			t.Logf("chromium output:\n%s", chromeLog.Bytes())
		}
	}()

	// decisions reads the gate's decision counts by rule from /metrics.
	decisionRE := regexp.MustCompile(`(?m)^tmaps_gate_decisions_total\{outcome="[a-z]+",reason="([a-z_]+)"\} (\d+)$`)
	decisions := func() map[string]int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, serve.URL+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]int{}
		for _, s := range decisionRE.FindAllStringSubmatch(string(b), -1) {
			var n int
			fmt.Sscan(s[2], &n)
			m[s[1]] += n
		}
		return m
	}

	api := fmt.Sprintf("https://%s:%d", browserAPIHost, ngx.HTTPSPort)
	seq := 0
	tileURL := func(key string) string {
		seq++ // a new URL each time: nothing comes from the browser's cache
		return fmt.Sprintf("%s/v1/tiles/9/271/%d.png?api_key=%s", api, seq, key)
	}
	jsonURL := func(key string) string {
		seq++
		return fmt.Sprintf("%s/v1/geocode?q=tunis&n=%d&api_key=%s", api, seq, key)
	}
	page := func(host string) string { return fmt.Sprintf("https://%s:%s/", host, pagePort) }
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	okBody := func(method string) string { return "upstream " + method + " /v1/geocode" }
	const (
		notAuthorized = `{"error":"domain not authorized"}`
		disabled      = `{"error":"api_key disabled"}`
	)

	cases := []struct {
		name   string
		page   string // the page's URL
		script string // a call of a browserPage helper
		want   browserResult
		reason string // the rule of the gate's one decision; "" for none
	}{
		{"fetch from the linked site", page(browserSiteHost),
			`tryFetch(` + js(jsonURL(web)) + `)`, browserResult{Status: 200, Body: okBody("GET")}, "origin_matched"},
		{"JSON POST (preflighted) from the linked site", page(browserSiteHost),
			`tryFetch(` + js(jsonURL(web)) + `, {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"})`,
			browserResult{Status: 200, Body: okBody("POST")}, "origin_matched"},
		{"img on the linked site (Referer only)", page(browserSiteHost),
			`tryImg(` + js(tileURL(web)) + `)`, browserResult{Status: 4, Body: "load"}, "referer_matched"},
		{"fetch from a foreign site: readable 403", page(browserEvilHost),
			`tryFetch(` + js(jsonURL(web)) + `)`, browserResult{Status: 403, Body: notAuthorized}, "domain_not_authorized"},
		{"JSON POST (preflighted) from a foreign site: readable 403", page(browserEvilHost),
			`tryFetch(` + js(jsonURL(web)) + `, {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"})`,
			browserResult{Status: 403, Body: notAuthorized}, "domain_not_authorized"},
		{"fetch from a foreign site without a referrer: Origin still decides", page(browserEvilHost),
			`tryFetch(` + js(jsonURL(web)) + `, {referrerPolicy: "no-referrer"})`,
			browserResult{Status: 403, Body: notAuthorized}, "domain_not_authorized"},
		{"img on a foreign site", page(browserEvilHost),
			`tryImg(` + js(tileURL(web)) + `)`, browserResult{Status: 0, Body: "error"}, "domain_not_authorized"},
		{"img with referrerpolicy=no-referrer on a foreign site: no header, rule 6", page(browserEvilHost),
			`tryImg(` + js(tileURL(web)) + `, "no-referrer")`, browserResult{Status: 4, Body: "load"}, "no_origin_or_referer"},
		// A sandboxed frame has an opaque origin: Chromium sends Origin: null
		// and no Referer at all, so a key with domains refuses it (rule 9), and
		// the page still reads the JSON.
		{"fetch from a sandboxed frame on the linked site", page(browserSiteHost),
			`tryFrame(` + js(jsonURL(web)) + `)`, browserResult{Status: 403, Body: notAuthorized, Origin: "null"}, "domain_not_authorized"},
		{"fetch from a sandboxed frame with an unrestricted key", page(browserSiteHost),
			`tryFrame(` + js(jsonURL(server)) + `)`, browserResult{Status: 200, Body: okBody("GET"), Origin: "null"}, "key_unrestricted"},
		{"fetch from the IDN site café.tn", page("café.tn"),
			`tryFetch(` + js(jsonURL(cafe)) + `)`, browserResult{Status: 200, Body: okBody("GET")}, "origin_matched"},
		{"img on the IDN site café.tn", page("café.tn"),
			`tryImg(` + js(tileURL(cafe)) + `)`, browserResult{Status: 4, Body: "load"}, "referer_matched"},
		{"the café.tn key from the ASCII site", page(browserSiteHost),
			`tryFetch(` + js(jsonURL(cafe)) + `)`, browserResult{Status: 403, Body: notAuthorized}, "domain_not_authorized"},
		{"fetch with a disabled key: readable 401", page(browserSiteHost),
			`tryFetch(` + js(jsonURL(paused)) + `)`, browserResult{Status: 401, Body: disabled}, "key_disabled"},
		{"img with a disabled key", page(browserSiteHost),
			`tryImg(` + js(tileURL(paused)) + `)`, browserResult{Status: 0, Body: "error"}, "key_disabled"},
		{"a host outside the resolver rules does not resolve", page(browserSiteHost),
			`tryFetch("https://tmaps.tn/")`, browserResult{Status: 0}, ""},
	}
	current := ""
	for _, c := range cases {
		if c.page != current {
			var secure bool
			var origin string
			err := chromedp.Do(ctx, chromedp.Navigate(c.page))
			if err == nil {
				secure, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`window.isSecureContext`))
			}
			if err == nil {
				origin, err = chromedp.Run(ctx, chromedp.Evaluate[string](`location.origin`))
			}
			if err != nil {
				t.Fatalf("open %s: %v", c.page, err)
			}
			// The certificate is trusted, not merely ignored: the page is a
			// secure context, as on a real site.
			if !secure || !strings.HasPrefix(origin, "https://") {
				t.Fatalf("%s: isSecureContext %v, origin %q; want a secure https page", c.page, secure, origin)
			}
			current = c.page
		}
		before := decisions()
		hits := up.count()
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		got, err := chromedp.Run(rctx, chromedp.Evaluate[browserResult](c.script, chromedp.EvalAwaitPromise))
		cancel()
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if c.want.Status == 0 && c.want.Body == "" {
			// Only the failure matters (the error text is the browser's).
			if got.Status != 0 || got.Error == "" {
				t.Errorf("%s: got %+v, want a network error", c.name, got)
			}
		} else if got.Status != c.want.Status || got.Body != c.want.Body || got.Origin != c.want.Origin {
			t.Errorf("%s: the page saw %+v, want %+v", c.name, got, c.want)
		}
		after := decisions()
		var changed []string
		for r, n := range after {
			if d := n - before[r]; d != 0 {
				changed = append(changed, fmt.Sprintf("%s+%d", r, d))
			}
		}
		want := []string{}
		if c.reason != "" {
			want = []string{c.reason + "+1"}
		}
		if strings.Join(changed, " ") != strings.Join(want, " ") {
			t.Errorf("%s: the gate decided %v, want %v", c.name, changed, want)
		}
		allowed := c.want.Status == 200 || c.want.Body == "load"
		if d := up.count() - hits; (d == 1) != allowed || d > 1 {
			t.Errorf("%s: %d requests reached the API", c.name, d)
		}
	}

	// The preflights of the two JSON POSTs reached nginx and only nginx.
	access, err := os.ReadFile(filepath.Join(ngx.Logs, "tmaps-api.access.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{browserSiteHost, browserEvilHost} {
		want := fmt.Sprintf(`" 204 0 "https://%[1]s:%[2]s/" "https://%[1]s:%[2]s"`, host, pagePort)
		if !regexp.MustCompile(`"OPTIONS /v1/geocode\?[^"]*` + regexp.QuoteMeta(want)).Match(access) {
			t.Errorf("no preflight from %s answered 204 in the access log:\n%s", host, access)
		}
	}

	// What the gate counted for usage, once flushed: the hosts each key was
	// allowed and refused from.
	env := []string{"TMAPS_TOKEN=" + token}
	hostsOf := func(id string) (matched, refused string) {
		var u usageOut
		out := stackRun(t, bin, env, "--api", serve.URL, "usage", id, "--since", "24h", "--json")
		if err := json.Unmarshal(out, &u); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		var m, r []string
		for _, h := range u.Matched {
			m = append(m, fmt.Sprintf("%s=%d", h.Host, h.Count))
		}
		for _, h := range u.Refused {
			r = append(r, fmt.Sprintf("%s=%d", h.Host, h.Count))
		}
		return strings.Join(m, " "), strings.Join(r, " ")
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		wm, wr := hostsOf(webID)
		cm, cr := hostsOf(cafeID)
		ok := wm == browserSiteHost+"=3" && strings.Contains(wr, browserEvilHost+"=4") &&
			cm == browserIDNHost+"=2" && cr == browserSiteHost+"=1"
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("usage hosts: web matched %q refused %q, cafe matched %q refused %q; want %s=3, %s=4 among the refused, %s=2, %s=1",
				wm, wr, cm, cr, browserSiteHost, browserEvilHost, browserIDNHost, browserSiteHost)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	ngx.checkLogsHaveNoSecrets(t, strings.TrimPrefix(web, "ak_"), strings.TrimPrefix(cafe, "ak_"),
		strings.TrimPrefix(paused, "ak_"), strings.TrimPrefix(server, "ak_"))
}
