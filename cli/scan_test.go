package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tmaps/console/internal/testkit"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/server"
	"github.com/tmaps/console/store"
)

// scanTree writes a work tree with secrets in a .env file, in source code,
// in a binary file, across the chunk boundary of a large file, and in
// places scan must not look (.git, a symbolic link's target outside).
func scanTree(t *testing.T, live, revoked, unknown string) string {
	t.Helper()
	dir := t.TempDir()
	w := func(rel string, data []byte) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w(".env", []byte("# local settings\nTMAPS_KEY="+live+"\n"))
	w(".gitignore", []byte(".env\n"))
	w("src/map.js", []byte("const map = new TMap({\n  key: \""+revoked+"\", // old one\n});\n"))
	w("src/notes.md", []byte("An example: ak_0123456789abcdef0123456789abcdefX is not a key.\n"))
	bin := append([]byte{0x7f, 'E', 'L', 'F', 0, 0, 1, 2}, bytes.Repeat([]byte{0}, 100)...)
	bin = append(bin, []byte(unknown)...)
	bin = append(bin, 0, 0, 0)
	w("bin/app", bin)
	// Secrets where a large file's reads meet: one that starts before the
	// end of the first chunk and ends after it, one that starts in the
	// bytes kept for the second read.
	big := bytes.Repeat([]byte("x"), scanChunk-10)
	big = append(big, '\n', ' ')
	big = append(big, []byte(live)...) // at scanChunk-8
	big = append(big, '\n', '=')
	big = append(big, []byte(revoked)...) // at scanChunk+29
	big = append(big, '\n')
	big = append(big, bytes.Repeat([]byte("y\n"), 50000)...)
	w("data/big.txt", big)
	w(".git/config", []byte("[remote] url = https://x/?k="+live+"\n"))
	w("sub/.git", []byte("gitdir: ../.git/modules/sub "+live+"\n"))
	outside := filepath.Join(t.TempDir(), "outside.txt")
	if err := os.WriteFile(outside, []byte(live), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestScan: the secrets of a work tree are found where they are, named by
// their key and status, never printed; a live one makes scan exit 3.
func TestScan(t *testing.T) {
	e := newEnv(t)
	live := e.create("Production frontend")
	old := e.create("old web")
	e.must("keys", "revoke", old.Key.ID, "--confirm", "old web")
	unknown := model.NewSecret()
	dir := scanTree(t, live.Secret, old.Secret, unknown)

	r := e.run("scan", dir)
	if r.code != ExitFound {
		t.Fatalf("scan: %v", r)
	}
	for _, s := range []string{live.Secret, old.Secret, unknown} {
		if strings.Contains(r.stdout+r.stderr, s) || strings.Contains(r.stdout+r.stderr, s[11:]) {
			t.Fatalf("scan printed a secret:\n%s%s", r.stdout, r.stderr)
		}
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	want := []string{
		filepath.Join(dir, ".env") + ":2:11: " + live.Key.Prefix + "… key \"Production frontend\" (" + live.Key.ID + ") active: LIVE",
		filepath.Join(dir, "bin/app") + " (binary, byte 108): " + model.DisplayPrefix(unknown) + "… not a key of this store",
		filepath.Join(dir, "data/big.txt") + ":2:2: " + live.Key.Prefix + "… key \"Production frontend\" (" + live.Key.ID + ") active: LIVE",
		filepath.Join(dir, "data/big.txt") + ":3:2: " + old.Key.Prefix + "… key \"old web\" (" + old.Key.ID + ") revoked: harmless, remove it anyway",
		filepath.Join(dir, "src/map.js") + ":2:9: " + old.Key.Prefix + "… key \"old web\" (" + old.Key.ID + ") revoked: harmless, remove it anyway",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("scan found:\n%s\nwant:\n%s", r.stdout, strings.Join(want, "\n"))
	}
	if !strings.Contains(r.stderr, "scanned 6 files: 5 secrets (2 live, 2 revoked, 1 not keys of this store)") ||
		!strings.Contains(r.stderr, "tmaps: live keys found: rotate them") {
		t.Fatalf("stderr: %s", r.stderr)
	}

	// JSON, and a single file.
	r = e.run("scan", "--json", filepath.Join(dir, "src/map.js"))
	var fs []scanFinding
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &fs) != nil || len(fs) != 1 || fs[0].Key == nil || fs[0].Key.Status != model.Revoked ||
		fs[0].Live || fs[0].Line != 2 || fs[0].Prefix != old.Key.Prefix || strings.Contains(r.stdout, old.Secret) {
		t.Fatalf("scan --json of a file with a revoked key: %v", r)
	}
	// Nothing found: exit 0.
	clean := t.TempDir()
	os.WriteFile(filepath.Join(clean, "README"), []byte("no secret here\n"), 0o644)
	if r := e.run("scan", clean); r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "scanned 1 files: 0 secrets") {
		t.Fatalf("clean tree: %v", r)
	}
	e.want(e.run("scan", filepath.Join(dir, "missing")), ExitError, "no such file")
	e.want(e.run("scan"), ExitUsage, "missing argument")
}

// TestScanOverTheAPI: with --api, secrets are looked up by digest with
// any token, an auditor's included; the daemon sees no secret.
func TestScanOverTheAPI(t *testing.T) {
	e := newEnv(t)
	live := e.create("web")
	st := e.open()
	defer st.Close()
	_, token, err := st.CreateToken(store.WithActor(context.Background(), "t"), "dash", model.RoleAuditor)
	if err != nil {
		t.Fatal(err)
	}
	bodies := &testkit.SyncBuffer{}
	srv, err := server.New(st, server.Options{Tokens: st})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies.Write([]byte(r.URL.String() + " " + string(b) + "\n"))
		r.Body = io.NopCloser(bytes.NewReader(b))
		srv.Handler().ServeHTTP(w, r)
	}))
	defer ts.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "app.py"), []byte("KEY = '"+live.Secret+"'\n"), 0o644)
	e.vars["TMAPS_TOKEN"] = token
	delete(e.vars, "TMAPS_DB") // --api is the only store
	r := e.run("--api", ts.URL, "scan", dir)
	if r.code != ExitFound || !strings.Contains(r.stdout, `key "web" (`+live.Key.ID+`) active: LIVE`) {
		t.Fatalf("scan over the API: %v", r)
	}
	if strings.Contains(bodies.String(), live.Secret[3:]) || !strings.Contains(bodies.String(), model.DigestOf(live.Secret).String()) {
		t.Fatalf("the API saw %q", bodies.String())
	}
}

// TestScanRefusedOverSSH: scan would read the daemon's files.
func TestScanRefusedOverSSH(t *testing.T) {
	e := newEnv(t)
	st := e.open()
	defer st.Close()
	var out, errb bytes.Buffer
	code := ExecuteWithStore(context.Background(), st, e.db, "ssh:x SHA256:y", model.RoleAdmin, []string{"scan", "/etc"}, strings.NewReader(""), &out, &errb)
	if code != ExitUsage || !strings.Contains(errb.String(), "scan reads local files") || out.Len() != 0 {
		t.Fatalf("scan over SSH: %d %q %q", code, out.String(), errb.String())
	}
}
