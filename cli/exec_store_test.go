package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tmaps/console/cli"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
)

// TestExecuteWithStore runs commands as the daemon's SSH sessions do: on
// an open store that stays open, with the session's actor.
func TestExecuteWithStore(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "console.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const actor = "ssh:ops SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	run := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		code := cli.ExecuteWithStore(context.Background(), st, "/srv/tmaps/console.db", actor, model.RoleAdmin, args, strings.NewReader(stdin), &out, &errb)
		return code, out.String(), errb.String()
	}

	code, out, errOut := run("", "keys", "create", "--name", "over ssh")
	if code != 0 || !model.ValidSecret(strings.TrimSpace(out)) {
		t.Fatalf("keys create: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	entries, err := st.Audit(context.Background(), store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Actor != actor {
		t.Fatalf("audit = %+v, want one entry by %q", entries, actor)
	}
	// The store is still open for the daemon.
	keys, err := st.Keys(context.Background())
	if err != nil || len(keys) != 1 {
		t.Fatalf("after the command the store says %v, %v", keys, err)
	}

	code, out, _ = run("", "keys", "list", "--json")
	var listed []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &listed) != nil || len(listed) != 1 || listed[0]["name"] != "over ssh" {
		t.Fatalf("keys list --json: exit %d, stdout %q", code, out)
	}

	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{nil, "give a command"},
		{[]string{"--demo"}, "give a command"},
		{[]string{"serve"}, "serve cannot run inside the daemon"},
		{[]string{"serve", "--listen", "127.0.0.1:0", "--allow-http"}, "serve cannot run inside the daemon"},
		{[]string{"--db", "/tmp/other.db", "serve"}, "serve cannot run inside the daemon"},
		{[]string{"--db", "/tmp/other.db", "keys", "list"}, "drop --db"},
		{[]string{"--api", "http://127.0.0.1:1", "keys", "list"}, "drop --db, --api"},
		{[]string{"--demo", "keys", "list"}, "--demo"},
	} {
		code, out, errOut := run("", tc.args...)
		if code != cli.ExitUsage || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, code, out, errOut, tc.msg)
		}
	}
	if keys, _ := st.Keys(context.Background()); len(keys) != 1 {
		t.Fatalf("refused commands changed the store: %d keys", len(keys))
	}

	// Help still works, and says what the commands are.
	code, out, _ = run("", "--help")
	if code != 0 || !strings.Contains(out, "keys") {
		t.Fatalf("--help: exit %d, stdout %q", code, out)
	}
	// Errors keep their exit codes.
	code, _, errOut = run("", "keys", "show", "nope")
	if code != cli.ExitRefused || !strings.Contains(errOut, "nope") {
		t.Fatalf("keys show nope: exit %d, stderr %q", code, errOut)
	}
}
