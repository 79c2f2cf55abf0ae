package cli_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tmaps/console/internal/testkit"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store/bolt"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testkit.Cleanup()
	os.Exit(code)
}

// TestBinary runs the real binary as a script would: exit codes, the
// KEY=$(tmaps keys create …) idiom, and a store locked by another process.
func TestBinary(t *testing.T) {
	bin := testkit.Binary(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "console.db")
	environ := append(os.Environ(), "TMAPS_DB="+db, "HOME="+dir, "TMAPS_API=", "TMAPS_TOKEN=")

	run := func(args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = environ
		out, errOut, code, err := testkit.RunCaptured(cmd)
		if err != nil {
			t.Fatalf("run %v: %v", args, err)
		}
		return code, out, errOut
	}

	// The shell idiom yields only the secret.
	sh := exec.Command("sh", "-c", `KEY=$("$TMAPS" keys create --name x) && printf '%s' "$KEY"`)
	sh.Env = append(environ, "TMAPS="+bin)
	var shErr bytes.Buffer
	sh.Stderr = &shErr
	out, err := sh.Output()
	if err != nil {
		t.Fatalf("KEY=$(tmaps keys create --name x): %v\n%s", err, shErr.String())
	}
	secret := string(out)
	if !model.ValidSecret(secret) {
		t.Fatalf("KEY=%q, want only the secret", secret)
	}
	if !strings.Contains(shErr.String(), "shown once") {
		t.Errorf("warning missing from stderr: %q", shErr.String())
	}
	if fi, err := os.Stat(db); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("store file: %v %v", fi, err)
	}

	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"keys", "list"}, 0, ""},
		{[]string{"keys", "list", "--frobnicate"}, 2, "unknown flag"},
		{[]string{"keys", "show", "nope"}, 4, "no such key"},
		{[]string{"keys", "revoke", "x", "--confirm", "y"}, 4, "does not match"},
		{[]string{"keys", "disable", "x"}, 4, "--yes"},
		{[]string{"domains", "add", "https://mysite.tn"}, 1, "remove the scheme"},
		{[]string{"check", "--key", secret}, 0, "key_unrestricted"},
	} {
		code, stdout, stderr := run(tc.args...)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.msg) {
			t.Errorf("tmaps %q: exit %d, want %d with %q\nstdout: %s\nstderr: %s", tc.args, code, tc.code, tc.msg, stdout, stderr)
		}
		if strings.Contains(stdout+stderr, secret[3:]) {
			t.Errorf("tmaps %q prints the secret", tc.args)
		}
	}

	// Another process holds the store: a clear message, exit 1.
	st, err := bolt.Open(db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run("keys", "list")
	// A second daemon is told to stop the first, not to use --api.
	sCode, _, sErr := run("serve", "--allow-http", "--listen", "127.0.0.1:0")
	st.Close()
	if sCode != 1 || strings.Count(sErr, "in use") != 1 || !strings.Contains(sErr, "another `tmaps serve`") || strings.Contains(sErr, "--api") {
		t.Errorf("serve on a locked store: exit %d, stderr %q", sCode, sErr)
	}
	if code != 1 || !strings.Contains(stderr, "in use by another process") {
		t.Errorf("locked store: exit %d, stderr %q", code, stderr)
	}
	// Said once, on one line (it was doubled: "in use by another process: … in use by another process").
	if n := strings.Count(stderr, "in use"); n != 1 || strings.Count(stderr, "\n") != 1 {
		t.Errorf("locked store: the message says \"in use\" %d times: %q", n, stderr)
	}
	// And once it is released the binary works again.
	if code, stdout, _ := run("keys", "list"); code != 0 || !strings.Contains(stdout, "\tx\t") {
		t.Errorf("after release: exit %d, %q", code, stdout)
	}
}

// TestVersion: `tmaps --version` prints the build on stdout; a build
// without VCS stamps shows the commit the Makefile passes with -ldflags.
func TestVersion(t *testing.T) {
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	const flag = "-X github.com/tmaps/console/internal/buildinfo.commit="
	if !strings.Contains(string(mk), flag) {
		t.Fatalf("the Makefile does not pass %q", flag)
	}
	bin := filepath.Join(t.TempDir(), "tmaps")
	build := exec.Command("go", "build", "-buildvcs=false", "-ldflags", flag+"c0ffee123456", "-o", bin, "github.com/tmaps/console")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, "--version")
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil || errb.Len() != 0 {
		t.Fatalf("tmaps --version: %v, stderr %q", err, errb.String())
	}
	if !regexp.MustCompile(`^tmaps \S+, commit c0ffee123456, go1\.\S+ \S+/\S+\n$`).MatchString(out.String()) {
		t.Fatalf("tmaps --version printed %q", out.String())
	}
}
