package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tmaps/console/internal/etcdtest"
	"github.com/tmaps/console/internal/testkit"
	"github.com/tmaps/console/store/bolt"
	"github.com/tmaps/console/store/etcd"
	"github.com/tmaps/console/store/storetest"
)

// run runs the tmaps binary with env (added to a clean HOME) and returns
// its exit code, stdout and stderr.
func run(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(testkit.Binary(t), args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), append([]string{"HOME=" + home, "XDG_DATA_HOME=" + home, "NO_COLOR=1", "TMAPS_ETCD=", "TMAPS_DB="}, env...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

func boltSnapshot(t *testing.T, path string) string {
	t.Helper()
	b, err := bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	return storetest.Snapshot(t, b)
}

func etcdSnapshot(t *testing.T, endpoints []string, prefix string) string {
	t.Helper()
	s, err := etcd.Open(context.Background(), etcd.Options{Endpoints: endpoints, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return storetest.Snapshot(t, s)
}

// tmaps migrate through the binary, both ways, on a real cluster: the
// counts are printed and verified, the data reads the same on each side, a
// target with data is refused (naming --force) and left as it was, and so
// is a bad source; tmaps backup on the cluster is a store file that
// tmaps restore puts into a bolt file and into another etcd prefix.
func TestMigrateAndBackupThroughTheBinary(t *testing.T) {
	dir := t.TempDir()
	endpoints := etcdtest.Shared(t).Endpoints
	urls := strings.Join(endpoints, ",")
	prefix := fmt.Sprintf("/migrate/%d-%d/", os.Getpid(), prefixes.Add(1))
	env := []string{"TMAPS_ETCD_PREFIX=" + prefix}

	src := filepath.Join(dir, "src.db")
	b, err := bolt.Open(src, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	storetest.Fill(t, b)
	want := storetest.Snapshot(t, b)
	b.Close()
	const counts = "4 keys, 3 domains, 2 links, 20 audit entries, 2 tokens, 6 usage days, 4 refused hosts, 2 matched hosts, 2 alerts"

	// bolt → etcd.
	code, _, stderr := run(t, env, "migrate", "--from", "bolt:"+src, "--to", "etcd:"+urls)
	if code != 0 || !strings.Contains(stderr, "migrated bolt:"+src+" to etcd:"+urls+" "+prefix+": "+counts+" (counted again in the target)") {
		t.Fatalf("migrate to etcd: exit %d\n%s", code, stderr)
	}
	if d := storetest.SnapshotDiff(want, etcdSnapshot(t, endpoints, prefix)); d != "" {
		t.Fatalf("the cluster after the migration: %s", d)
	}
	// Again: refused, the target untouched; a bad source too.
	code, _, stderr = run(t, env, "migrate", "--from", "bolt:"+src, "--to", "etcd:"+urls)
	if code != 4 || !strings.Contains(stderr, "already holds a store: add --force to replace it") {
		t.Fatalf("a second migration into the same prefix: exit %d\n%s", code, stderr)
	}
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, bytes.Repeat([]byte("not a store "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = run(t, env, "migrate", "--force", "--from", "bolt:"+junk, "--to", "etcd:"+urls)
	if code == 0 || !strings.Contains(stderr, "not a tmaps store") || !strings.Contains(stderr, "nothing was written") {
		t.Fatalf("a migration from a file that is not a store: exit %d\n%s", code, stderr)
	}
	if d := storetest.SnapshotDiff(want, etcdSnapshot(t, endpoints, prefix)); d != "" {
		t.Fatalf("the cluster after two refused migrations: %s", d)
	}

	// etcd → bolt, and a bolt target with data refused.
	back := filepath.Join(dir, "back.db")
	code, _, stderr = run(t, env, "migrate", "--from", "etcd:"+urls, "--to", "bolt:"+back)
	if code != 0 || !strings.Contains(stderr, ": "+counts+" (counted again") {
		t.Fatalf("migrate to bolt: exit %d\n%s", code, stderr)
	}
	if d := storetest.SnapshotDiff(want, boltSnapshot(t, back)); d != "" {
		t.Fatalf("the bolt file after the way back: %s", d)
	}
	code, _, stderr = run(t, env, "migrate", "--from", "etcd:"+urls, "--to", "bolt:"+src)
	if code != 4 || !strings.Contains(stderr, "already holds a store") || !strings.Contains(stderr, "--force") {
		t.Fatalf("a migration onto a store file with data: exit %d\n%s", code, stderr)
	}

	// tmaps backup on the cluster, restored into bolt and into etcd.
	file := filepath.Join(dir, "cluster-backup.db")
	code, _, stderr = run(t, append(env, "TMAPS_ETCD="+urls), "backup", file)
	if code != 0 || !strings.Contains(stderr, "4 keys, 3 domains, 20 audit entries, 2 tokens") {
		t.Fatalf("backup on the cluster: exit %d\n%s", code, stderr)
	}
	now := etcdSnapshot(t, endpoints, prefix)
	restored := filepath.Join(dir, "restored.db")
	if code, _, stderr = run(t, nil, "--db", restored, "restore", file); code != 0 {
		t.Fatalf("restore into bolt: exit %d\n%s", code, stderr)
	}
	if d := storetest.SnapshotDiff(now, boltSnapshot(t, restored)); d != "" {
		t.Fatalf("the backup restored into bolt: %s", d)
	}
	other := strings.TrimSuffix(prefix, "/") + "-restored/"
	code, _, stderr = run(t, []string{"TMAPS_ETCD=" + urls, "TMAPS_ETCD_PREFIX=" + other}, "restore", file)
	if code != 0 || !strings.Contains(stderr, "restored bolt:"+file+" to etcd:") {
		t.Fatalf("restore into etcd: exit %d\n%s", code, stderr)
	}
	if d := storetest.SnapshotDiff(now, etcdSnapshot(t, endpoints, other)); d != "" {
		t.Fatalf("the backup restored into another prefix: %s", d)
	}
}
