package sshd

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/tmaps/console/internal/testkit"
	"github.com/tmaps/console/model"
)

func TestHostKeyGeneratedOnceAndReused(t *testing.T) {
	dir := t.TempDir()
	ak := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(ak, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	hk := filepath.Join(dir, "state", "ssh_host_ed25519_key")
	s1, err := New(Config{AuthorizedKeysFile: ak, HostKeyFile: hk})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(hk)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("host key mode %04o, want 0600", fi.Mode().Perm())
	}
	if !strings.HasPrefix(s1.Fingerprint(), "SHA256:") {
		t.Fatalf("fingerprint %q", s1.Fingerprint())
	}
	s2, err := New(Config{AuthorizedKeysFile: ak, HostKeyFile: hk})
	if err != nil {
		t.Fatal(err)
	}
	if s1.Fingerprint() != s2.Fingerprint() {
		t.Fatalf("second start generated a new key: %s != %s", s1.Fingerprint(), s2.Fingerprint())
	}
	if _, err := exec.LookPath("ssh-keygen"); err == nil {
		out, err := exec.Command("ssh-keygen", "-l", "-E", "sha256", "-f", hk+".pub").Output()
		if err != nil {
			t.Fatalf("ssh-keygen -l on the public host key: %v", err)
		}
		if !strings.Contains(string(out), s1.Fingerprint()) {
			t.Fatalf("ssh-keygen says %q, server says %s", out, s1.Fingerprint())
		}
	}
	// A host key others can read is refused, naming the fix.
	if err := os.Chmod(hk, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = New(Config{AuthorizedKeysFile: ak, HostKeyFile: hk})
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("group-readable host key: err = %v", err)
	}
	// A file that is not a key is refused without being replaced.
	bad := filepath.Join(dir, "bad_key")
	os.WriteFile(bad, []byte("not a key\n"), 0o600)
	if _, err := New(Config{AuthorizedKeysFile: ak, HostKeyFile: bad}); err == nil {
		t.Fatal("a garbage host key was accepted")
	}
	if b, _ := os.ReadFile(bad); string(b) != "not a key\n" {
		t.Fatal("the bad host key file was overwritten")
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	ak := filepath.Join(dir, "authorized_keys")
	os.WriteFile(ak, nil, 0o600)
	hk := filepath.Join(dir, "hk")
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no authorized keys", Config{HostKeyFile: hk}, "--authorized-keys"},
		{"missing authorized keys", Config{AuthorizedKeysFile: filepath.Join(dir, "nope"), HostKeyFile: hk}, "cat ~/.ssh/id_ed25519.pub >>"},
		{"no host key", Config{AuthorizedKeysFile: ak}, "--host-key"},
		{"negative max", Config{AuthorizedKeysFile: ak, HostKeyFile: hk, MaxSessions: -1}, "max sessions"},
		{"negative idle", Config{AuthorizedKeysFile: ak, HostKeyFile: hk, IdleTimeout: -1}, "idle timeout"},
	}
	for _, c := range cases {
		_, err := New(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
	}
}

func TestAuthorizedKeysParsing(t *testing.T) {
	testkit.NeedSSHTools(t, "ssh-keygen")
	dir := t.TempDir()
	a := newClientKey(t, dir, "a")
	b := newClientKey(t, dir, "b")
	c := newClientKey(t, dir, "c")
	d := newClientKey(t, dir, "d")
	e := newClientKey(t, dir, "e")
	f := newClientKey(t, dir, "f")
	g := newClientKey(t, dir, "g")
	path := filepath.Join(dir, "authorized_keys")
	content := "# comment\n\n" + a.pub + "\n" +
		"garbage line\n" +
		`from="10.0.0.1" ` + b.pub + "\n" +
		"  " + c.pub + "  \n" +
		`environment="TMAPS_ROLE=auditor" ` + d.pub + "\n" +
		`environment="TMAPS_ROLE=Operator" ` + e.pub + "\n" +
		`environment="TMAPS_ROLE=root" ` + f.pub + "\n" +
		`environment="TMAPS_ROLE=auditor",from="10.0.0.1" ` + g.pub + "\n"
	os.WriteFile(path, []byte(content), 0o600)
	logs := &testkit.SyncBuffer{}
	ak := &authorizedKeys{path: path, log: slog.New(slog.NewTextHandler(logs, nil))}
	n, err := ak.load()
	if err != nil || n != 4 {
		t.Fatalf("load: %d keys, err %v; want 4 (a, c, d and e)", n, err)
	}
	for _, k := range []struct {
		key  clientKey
		want bool
		role model.Role
	}{
		{a, true, model.RoleAdmin}, {b, false, ""}, {c, true, model.RoleAdmin},
		{d, true, model.RoleAuditor}, {e, true, model.RoleOperator}, {f, false, ""}, {g, false, ""},
	} {
		pub, comment := parsePub(t, k.key.pub)
		got, ok := ak.lookup(pub)
		if ok != k.want {
			t.Errorf("%s: accepted = %v, want %v", k.key.path, ok, k.want)
		}
		if ok && (got.comment != comment || got.role != k.role) {
			t.Errorf("%s: comment %q role %q, want %q %q", k.key.path, got.comment, got.role, comment, k.role)
		}
	}
	l := logs.String()
	for _, want := range []string{"line=4", "not a public key", "line=5", "options are not supported", "line=9", `unknown role \"root\"`, "line=10"} {
		if !strings.Contains(l, want) {
			t.Errorf("ignored lines are not logged with their numbers and reasons (%s):\n%s", want, l)
		}
	}
}

func parsePub(t *testing.T, line string) (gossh.PublicKey, string) {
	t.Helper()
	pub, comment, _, _, err := gossh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	return pub, comment
}

func TestSafeUser(t *testing.T) {
	for in, want := range map[string]string{
		"alice":                 "alice",
		"":                      "-",
		"evil SHA256:forged":    "evil_SHA256:forged",
		"tab\there":             `tab\x09here`,
		"bell\a":                `bell\x07`,
		"rtl\u202eevil":         `rtl\u202eevil`,
		"nbsp\u00a0x":           "nbsp_x",
		strings.Repeat("a", 80): strings.Repeat("a", 63) + "…",
	} {
		if got := safeUser(in); got != want {
			t.Errorf("safeUser(%q) = %q, want %q", in, got, want)
		}
	}
}
