package cli

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// Every serve flag also comes from TMAPS_<FLAG>, listed in --help; a flag
// on the command line wins; a bad value names its variable.
func TestServeEnvironment(t *testing.T) {
	e := newEnv(t)
	help := e.run("serve", "--help")
	cmd := (&app{getenv: func(string) string { return "" }}).serveCmd()
	n := 0
	for _, name := range []string{"listen", "gate-socket", "tls-cert", "tls-key", "trusted-proxy", "allow-http", "log-format", "log-level",
		"shutdown-timeout", "flush-every", "trust-client-actor", "ssh-listen", "authorized-keys", "host-key", "ssh-max-sessions", "ssh-idle-timeout"} {
		if cmd.Flags().Lookup(name) == nil {
			t.Errorf("no --%s", name)
		}
	}
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		n++
		if !strings.Contains(help.stdout, "(env "+envName(f.Name)+")") {
			t.Errorf("serve --help does not name %s for --%s", envName(f.Name), f.Name)
		}
	})
	if n < 15 {
		t.Fatalf("only %d flags", n)
	}

	// The daemon starts from the environment alone, and stops at once
	// (its context is already over).
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e.vars["TMAPS_LISTEN"] = "127.0.0.1:0"
	e.vars["TMAPS_ALLOW_HTTP"] = "true"
	e.vars["TMAPS_LOG_FORMAT"] = "json"
	r := e.runWith(opts{ctx: ctx}, "serve")
	if r.code != 0 || !regexp.MustCompile(`^ready http://127\.0\.0\.1:\d+\n$`).MatchString(r.stdout) || !strings.Contains(r.stderr, `"msg":"ready"`) {
		t.Fatalf("serve from the environment: %s", r)
	}

	// Flags win.
	e.vars["TMAPS_LISTEN"] = "256.0.0.1:bad"
	e.vars["TMAPS_LOG_FORMAT"] = "yaml"
	r = e.runWith(opts{ctx: ctx}, "serve", "--listen", "127.0.0.1:0", "--log-format", "text")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "ready http://127.0.0.1:") || !strings.Contains(r.stderr, "msg=ready") {
		t.Fatalf("flags over the environment: %s", r)
	}

	// A bad value is a usage error naming the variable.
	e.vars["TMAPS_FLUSH_EVERY"] = "soon"
	r = e.runWith(opts{ctx: ctx}, "serve", "--listen", "127.0.0.1:0", "--log-format", "text")
	if r.code != ExitUsage || !strings.Contains(r.stderr, `TMAPS_FLUSH_EVERY="soon"`) || !strings.Contains(r.stderr, "--flush-every") {
		t.Fatalf("bad TMAPS_FLUSH_EVERY: %s", r)
	}
	// A value the daemon refuses later is refused the same way as its flag.
	delete(e.vars, "TMAPS_FLUSH_EVERY")
	e.vars["TMAPS_ALLOW_HTTP"] = "false"
	r = e.runWith(opts{ctx: ctx}, "serve", "--listen", "127.0.0.1:0", "--log-format", "text")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "refusing to serve without TLS") {
		t.Fatalf("TMAPS_ALLOW_HTTP=false: %s", r)
	}
	// A repeatable flag takes a list.
	e.vars["TMAPS_TRUSTED_PROXY"] = "127.0.0.1/32, ::1"
	r = e.runWith(opts{ctx: ctx}, "serve", "--listen", "127.0.0.1:0", "--log-format", "text")
	if r.code != 0 || !strings.Contains(r.stderr, "trusted_proxies=2") {
		t.Fatalf("TMAPS_TRUSTED_PROXY: %s", r)
	}
}
