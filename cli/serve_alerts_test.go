package cli

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestAlertDocFlags checks every flag docs/alerts.md and docs/leaks.md
// name exists on serve, with its environment variable in the doc.
func TestAlertDocFlags(t *testing.T) {
	e := newEnv(t)
	help := e.must("serve", "--help").stdout
	for doc, re := range map[string]string{"alerts.md": "`(--alert-[a-z-]+)", "leaks.md": "`(--(?:leak|on-leak)[a-z-]*)"} {
		text, err := os.ReadFile("../docs/" + doc)
		if err != nil {
			t.Fatal(err)
		}
		flags := regexp.MustCompile(re).FindAllStringSubmatch(string(text), -1)
		if len(flags) < 2 {
			t.Fatalf("docs/%s names %d flags", doc, len(flags))
		}
		for _, f := range flags {
			if !strings.Contains(help, f[1]+" ") || !strings.Contains(string(text), envName(f[1][2:])) {
				t.Errorf("docs/%s names %s: not a serve flag, or its variable %s is not in the doc", doc, f[1], envName(f[1][2:]))
			}
		}
	}
}

// TestServeAlertFlagErrors: alert flag mistakes stop serve before it
// starts, naming the fix.
func TestServeAlertFlagErrors(t *testing.T) {
	e := newEnv(t)
	secret := e.home + "/alert.secret"
	os.MkdirAll(e.home, 0o700)
	os.WriteFile(secret, []byte("0123456789abcdef0123"), 0o600)
	open := e.home + "/open.secret"
	os.WriteFile(open, []byte("0123456789abcdef0123"), 0o644)
	short := e.home + "/short.secret"
	os.WriteFile(short, []byte("abc\n"), 0o600)
	base := []string{"serve", "--allow-http", "--listen", "127.0.0.1:0"}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--alert-webhook", "https://hooks.example.tn/x"}, ExitUsage, "--alert-webhook needs --alert-secret-file"},
		{[]string{"--alert-secret-file", secret}, ExitUsage, "add --alert-webhook"},
		{[]string{"--alert-webhook", "http://hooks.example.tn/x", "--alert-secret-file", secret}, ExitUsage, "plain http only to a loopback address"},
		{[]string{"--alert-webhook", "hooks.example.tn", "--alert-secret-file", secret}, ExitUsage, "want an https:// URL"},
		{[]string{"--alert-webhook", "https://h.tn/", "--alert-secret-file", open}, ExitError, "chmod 600"},
		{[]string{"--alert-webhook", "https://h.tn/", "--alert-secret-file", short}, ExitError, "at least 16 characters"},
		{[]string{"--alert-webhook", "https://h.tn/", "--alert-secret-file", e.home + "/missing"}, ExitError, "--alert-secret-file"},
		{[]string{"--alert-check-every", "0s"}, ExitUsage, "--alert-check-every"},
		{[]string{"--alert-refused-min", "0"}, ExitUsage, "--alert-refused-min"},
		{[]string{"--on-leak", "panic"}, ExitUsage, `--on-leak "panic": use record or disable`},
		{[]string{"--on-leak", "disable"}, ExitUsage, "add --leak-report-key FILE"},
		{[]string{"--leak-report-key", secret}, ExitError, "no public key found"},
		{[]string{"--leak-report-key", e.home + "/missing"}, ExitError, "--leak-report-key"},
	} {
		r := e.run(append(append([]string{}, base...), c.args...)...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) || strings.Contains(r.stdout, "ready") {
			t.Errorf("%v: %v; want exit %d and %q", c.args, r, c.code, c.want)
		}
	}
}
