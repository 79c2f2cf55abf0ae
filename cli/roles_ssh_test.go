package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/tmaps/console/internal/testkit"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
)

// sshRoleCommand is one CLI command of the role matrix: its args, with
// {r} standing for the role (each role works on its own objects), and the
// operation of the role table it needs.
type sshRoleCommand struct {
	path string // the cobra command path under tmaps, e.g. "keys revoke"
	args string
	op   model.Op
}

var sshRoleCommands = []sshRoleCommand{
	{"keys list", "keys list --json", model.OpKeysRead},
	{"keys show", "keys show show-{r}", model.OpKeysRead},
	{"keys create", "keys create --name new-{r}", model.OpKeysCreate},
	{"keys rename", "keys rename rename-{r} renamed-{r}", model.OpKeysRename},
	{"keys disable", "keys disable disable-{r} --yes", model.OpKeysDisable},
	{"keys enable", "keys enable enable-{r}", model.OpKeysEnable},
	{"keys revoke", "keys revoke revoke-{r} --confirm revoke-{r}", model.OpKeysRevoke},
	{"keys rotate", "keys rotate rotate-{r}", model.OpKeysRotate},
	{"keys set", "keys set set-{r} --rate 5 --owner ops", model.OpKeysPolicy},
	{"keys link", "keys link link-{r} spare-{r}.tn", model.OpKeysLink},
	{"keys unlink", "keys unlink unlink-{r} {r}.tn --yes", model.OpKeysUnlink},
	{"domains list", "domains list --json", model.OpDomainsRead},
	{"domains show", "domains show {r}.tn", model.OpDomainsRead},
	{"domains add", "domains add added-{r}.tn", model.OpDomainsAdd},
	{"domains delete", "domains delete delete-{r}.tn --yes", model.OpDomainsDelete},
	{"audit", "audit --limit 5", model.OpAuditRead},
	{"alerts", "alerts --limit 5", model.OpAlertsRead},
	{"usage", "usage --since 24h", model.OpUsageRead},
	{"hygiene", "hygiene", model.OpHygieneRead},
	{"check", "check --key {secret} --origin https://{r}.tn", model.OpKeysRead},
	{"tokens list", "tokens list", model.OpTokensRead},
	{"tokens create", "tokens create minted-{r} --role auditor", model.OpTokensCreate},
	{"tokens revoke", "tokens revoke revoke-{r}", model.OpTokensRevoke},
	{"tokens set-role", "tokens set-role setrole-{r} operator", model.OpTokensSetRole},
	{"backup", "backup -", model.OpStoreBackup},
}

// leafCommands lists the command paths of the binary that run something.
func leafCommands() []string {
	a := &app{ctx: context.Background(), getenv: func(string) string { return "" }, now: time.Now}
	var out []string
	var walk func(c *cobra.Command, prefix string)
	walk = func(c *cobra.Command, prefix string) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" {
				continue
			}
			p := strings.TrimSpace(prefix + " " + sub.Name())
			if sub.HasSubCommands() {
				walk(sub, p)
				continue
			}
			out = append(out, p)
		}
	}
	walk(a.newRoot(), "")
	sort.Strings(out)
	return out
}

// TestSSHRolesEveryCommandEveryRole runs every CLI command over real SSH
// (OpenSSH's client against the real binary) as an admin, an operator and
// an auditor, whose roles come from their authorized_keys lines: what the
// role table allows succeeds, anything else exits 4 with "forbidden:
// <role> cannot <action>", changes nothing and is audited as refused.
func TestSSHRolesEveryCommandEveryRole(t *testing.T) {
	testkit.NeedSSHTools(t, "ssh", "ssh-keygen")
	// The matrix covers every command but those that cannot run over SSH.
	covered := map[string]bool{"serve": true, "scan": true, "restore": true, "migrate": true}
	for _, c := range sshRoleCommands {
		covered[c.path] = true
	}
	for _, leaf := range leafCommands() {
		if !covered[leaf] {
			t.Errorf("command %q is not in sshRoleCommands: add it with its op", leaf)
		}
	}

	dir := t.TempDir()
	db := filepath.Join(dir, "console.db")
	st, err := bolt.Open(db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := store.WithActor(context.Background(), "setup")
	secrets := map[model.Role]string{}
	for _, r := range model.Roles() {
		name := func(s string) string { return s + "-" + string(r) }
		for _, d := range []string{string(r) + ".tn", name("spare") + ".tn", name("delete") + ".tn"} {
			if _, err := st.AddDomain(c, d); err != nil {
				t.Fatal(err)
			}
		}
		for _, k := range []string{"show", "rename", "disable", "enable", "revoke", "rotate", "link", "unlink", "set"} {
			key, secret, err := st.CreateKey(c, name(k), model.Policy{})
			if err != nil {
				t.Fatal(err)
			}
			if k == "show" {
				secrets[r] = secret
				_, err = st.LinkKey(c, key.ID, string(r)+".tn")
			}
			if k == "enable" {
				_, err = st.DisableKey(c, key.ID)
			}
			if k == "unlink" {
				_, err = st.LinkKey(c, key.ID, string(r)+".tn")
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, tok := range []string{name("revoke"), name("setrole")} {
			if _, _, err := st.CreateToken(c, tok, model.RoleAuditor); err != nil {
				t.Fatal(err)
			}
		}
	}
	st.Close()

	keys := map[model.Role]sshKey{}
	var lines []string
	for _, r := range model.Roles() {
		keys[r] = newSSHKey(t, dir, "id-"+string(r))
		line := keys[r].pub
		if r != model.RoleAdmin { // no option: an admin, as before roles
			line = `environment="TMAPS_ROLE=` + string(r) + `" ` + line
		}
		lines = append(lines, line)
	}
	authKeys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authKeys, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "HOME="+dir, "TMAPS_DB=", "TMAPS_API=", "TMAPS_TOKEN=", "XDG_DATA_HOME=")
	d := startDaemon(t, env, true, "--db", db, "--allow-http", "--listen", "127.0.0.1:0",
		"--ssh-listen", "127.0.0.1:0", "--authorized-keys", authKeys)

	type refusal struct{ actor, op string }
	wantRefused := map[refusal]bool{}
	for _, r := range model.Roles() {
		for _, cmd := range sshRoleCommands {
			if !r.Can(cmd.op) && cmd.op.Changes() {
				wantRefused[refusal{"ssh:" + string(r) + " " + keys[r].fingerprint, string(cmd.op)}] = true
			}
		}
	}
	// The roles run at once, each on its own objects, each command in turn.
	var wg sync.WaitGroup
	for _, r := range model.Roles() {
		wg.Go(func() {
			for _, cmd := range sshRoleCommands {
				args := strings.Fields(strings.NewReplacer("{r}", string(r), "{secret}", secrets[r]).Replace(cmd.args))
				out, errOut, code := sshRun(t, d.SSHPort, keys[r], string(r), args...)
				what := fmt.Sprintf("%s as %s", cmd.path, r)
				if r.Can(cmd.op) {
					if code != 0 {
						t.Errorf("%s: exit %d, stderr %q", what, code, errOut)
					}
					continue
				}
				want := "tmaps: forbidden: " + string(r) + " cannot " + cmd.op.Does() + "\n"
				if code != ExitRefused || errOut != want || strings.Contains(out, "ak_") {
					t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 4 and %q", what, code, out, errOut, want)
				}
			}
		})
	}
	wg.Wait()
	d.Stop()

	// The store: every refused change is audited once, under the SSH
	// actor; the roles that were refused changed nothing.
	st, err = bolt.Open(db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	entries, err := st.Audit(context.Background(), store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	gotRefused := map[refusal]bool{}
	changesBy := map[string]int{}
	for _, e := range entries {
		if e.Action == model.AuditRefused {
			k := refusal{e.Actor, e.After}
			if gotRefused[k] {
				t.Errorf("refusal audited twice: %+v", e)
			}
			gotRefused[k] = true
			continue
		}
		changesBy[e.Actor]++
	}
	if fmt.Sprint(sortedRefusals(gotRefused)) != fmt.Sprint(sortedRefusals(wantRefused)) {
		t.Errorf("refusals audited:\n%v\nwant:\n%v", sortedRefusals(gotRefused), sortedRefusals(wantRefused))
	}
	auditorActor := "ssh:auditor " + keys[model.RoleAuditor].fingerprint
	operatorActor := "ssh:operator " + keys[model.RoleOperator].fingerprint
	if changesBy[auditorActor] != 0 || changesBy[operatorActor] == 0 {
		t.Errorf("changes by actor: %v", changesBy)
	}
	byName := map[string]model.Key{}
	ks, _ := st.Keys(context.Background())
	for _, k := range ks {
		byName[k.Name] = k
	}
	if k := byName["revoke-auditor"]; k.Status != model.Active {
		t.Errorf("the auditor revoked a key: %+v", k)
	}
	if k := byName["revoke-operator"]; k.Status != model.Revoked {
		t.Errorf("the operator could not revoke a key: %+v", k)
	}
	ts, _ := st.Tokens(context.Background())
	var tokNames []string
	for _, tok := range ts {
		tokNames = append(tokNames, tok.Name+"="+string(tok.Role))
	}
	if got := strings.Join(tokNames, " "); got != "minted-admin=auditor revoke-auditor=auditor revoke-operator=auditor setrole-admin=operator setrole-auditor=auditor setrole-operator=auditor" {
		t.Errorf("tokens after the matrix: %s", got)
	}
}

func sortedRefusals[K comparable](m map[K]bool) []string {
	var out []string
	for k := range m {
		out = append(out, fmt.Sprint(k))
	}
	sort.Strings(out)
	return out
}

// TestSSHConsoleAsAuditor runs the console over real SSH, in tmux, for a
// key whose authorized_keys line makes it an auditor: the header says read
// only, n and x say why nothing happens, the help says why keys are
// missing, and the store is unchanged.
func TestSSHConsoleAsAuditor(t *testing.T) {
	testkit.NeedSSHTools(t, "ssh", "ssh-keygen", "tmux")
	dir := t.TempDir()
	db := filepath.Join(dir, "console.db")
	st, err := bolt.Open(db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := store.WithActor(context.Background(), "setup")
	k, _, err := st.CreateKey(c, "Production web", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	key := newSSHKey(t, dir, "reviewer")
	authKeys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authKeys, []byte(`environment="TMAPS_ROLE=auditor" `+key.pub+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "HOME="+dir, "TMAPS_DB=", "TMAPS_API=", "TMAPS_TOKEN=", "XDG_DATA_HOME=")
	d := startDaemon(t, env, true, "--db", db, "--allow-http", "--listen", "127.0.0.1:0",
		"--ssh-listen", "127.0.0.1:0", "--authorized-keys", authKeys)

	tm := testkit.NewTmux(t)
	tm.Timeout = 20 * time.Second
	tm.Context = func() string { return "log:\n" + d.logs.String() }
	sshCmd := "env TERM=xterm-256color ssh -tt " + testkit.ShellQuote("-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
		"-o", "LogLevel=ERROR", "-i", key.path, "-p", d.SSHPort, "-l", "reviewer", "127.0.0.1") + "; sleep 60"
	tm.Start("a", 110, 30, sshCmd)
	screen := tm.WaitFor("a", "Production web", "read only (auditor)")
	if strings.Contains(screen, "new key") {
		t.Fatalf("the auditor's footer offers a new key:\n%s", screen)
	}
	tm.Send("a", "n")
	tm.WaitFor("a", "Your role is auditor: it cannot create keys (this console is read only).")
	tm.Send("a", "x")
	tm.WaitFor("a", "Your role is auditor: it cannot revoke keys (this console is read only).")
	tm.Send("a", ".")
	menu := tm.WaitFor("a", "Copy prefix")
	if strings.Contains(menu, "Revoke") || strings.Contains(menu, "Disable") {
		t.Fatalf("the auditor's menu offers changes:\n%s", menu)
	}
	tm.Send("a", "Escape")
	// Wait for the menu to close: an ESC followed at once by ? reads as alt+?.
	tm.WaitUntil("a", func(s string) bool { return !strings.Contains(s, "Copy prefix") }, "the menu closed")
	tm.Send("a", "?")
	tm.WaitFor("a", "Read only: your role is auditor")
	tm.Send("a", "q")
	tm.Send("a", "q")
	d.Stop()

	st, err = bolt.Open(db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.Key(context.Background(), k.ID)
	if err != nil || got.Status != model.Active || got.Name != "Production web" {
		t.Fatalf("after the auditor's session: %+v, %v", got, err)
	}
}
