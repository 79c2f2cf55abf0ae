package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
)

// snapshot is everything a store holds that a backup must keep.
type snapshot struct {
	keys    map[string]model.Key
	domains map[string]model.Domain
	audit   []model.AuditEntry // oldest first
	tokens  []store.Token
}

func readSnapshot(t *testing.T, path string) snapshot {
	t.Helper()
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	s := snapshot{keys: map[string]model.Key{}, domains: map[string]model.Domain{}}
	ks, err := st.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		slices.Sort(k.Domains)
		s.keys[k.ID] = k
	}
	ds, err := st.Domains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		slices.Sort(d.Keys)
		s.domains[d.Name] = d
	}
	if s.audit, err = st.Audit(ctx, store.AuditQuery{}); err != nil {
		t.Fatal(err)
	}
	slices.Reverse(s.audit)
	if s.tokens, err = st.Tokens(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBackupUnderLoad backs the real daemon up over --api while clients
// create keys, domains and links, restores the copy and compares every
// key, domain, link and audit entry: the copy is the live store as of one
// moment (its audit log a prefix of the final one, and exactly what that
// prefix created and linked). A second backup after the load equals the
// final store. Restore refuses a store in use, an existing one without
// --force, and a file that is not a tmaps store.
func TestBackupUnderLoad(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "live.db")
	token, stderr, code := run(t, nil, "tokens", "create", "backup-ops", "--db", db)
	token = strings.TrimSpace(token)
	if code != 0 {
		t.Fatalf("tokens create: %s", stderr)
	}
	d := startDaemon(t, nil, "--db", db, "--listen", "127.0.0.1:0", "--allow-http", "--log-level", "warn")
	env := []string{"TMAPS_TOKEN=" + token, "TMAPS_API=" + d.url}

	client := &http.Client{Timeout: 10 * time.Second}
	post := func(path, body string) ([]byte, error) {
		req, _ := http.NewRequest("POST", d.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			return nil, fmt.Errorf("%s: %d %s", path, resp.StatusCode, b)
		}
		return b, nil
	}
	var created atomic.Int64
	var loadErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				b, err := post("/v1/keys", fmt.Sprintf(`{"name":"load %d-%d"}`, w, i))
				var kw struct{ Key struct{ ID string } }
				if err == nil {
					err = json.Unmarshal(b, &kw)
				}
				domain := fmt.Sprintf("w%d-%d.load.tn", w, i)
				if err == nil {
					_, err = post("/v1/domains", `{"name":"`+domain+`"}`)
				}
				if err == nil {
					_, err = post("/v1/keys/"+kw.Key.ID+"/link", `{"domains":["`+domain+`"]}`)
				}
				if err != nil {
					loadErr.CompareAndSwap(nil, err)
					return
				}
				created.Add(1)
			}
		})
	}
	waitCreated := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for created.Load() < n {
			if err := loadErr.Load(); err != nil {
				t.Fatalf("load: %v", err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %d keys created in 60s", created.Load())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitCreated(40)
	underLoad := filepath.Join(dir, "under-load.db")
	_, stderr, code = run(t, env, "backup", underLoad)
	if code != 0 || !strings.Contains(stderr, "backed up") {
		t.Fatalf("backup under load: exit %d: %s", code, stderr)
	}
	if fi, err := os.Stat(underLoad); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", fi, err)
	}
	waitCreated(created.Load() + 20)
	close(stop)
	wg.Wait()
	if err := loadErr.Load(); err != nil {
		t.Fatalf("load: %v", err)
	}
	quiet := filepath.Join(dir, "quiet.db")
	if _, stderr, code = run(t, env, "backup", quiet); code != 0 {
		t.Fatalf("backup after the load: exit %d: %s", code, stderr)
	}
	if _, stderr, code = run(t, env, "backup", quiet); code != 4 || !strings.Contains(stderr, "--force") {
		t.Fatalf("backup over an existing file: exit %d: %s", code, stderr)
	}
	if _, stderr, code = run(t, env, "backup", quiet, "--force"); code != 0 {
		t.Fatalf("backup --force: exit %d: %s", code, stderr)
	}

	// Restore refuses the store the daemon holds, and --api.
	if _, stderr, code = run(t, nil, "restore", underLoad, "--db", db, "--force"); code != 1 || !strings.Contains(stderr, "stop `tmaps serve` first") {
		t.Fatalf("restore over the running daemon's store: exit %d: %s", code, stderr)
	}
	if _, stderr, code = run(t, env, "restore", underLoad); code != 2 || !strings.Contains(stderr, "does not work over --api") {
		t.Fatalf("restore with --api: exit %d: %s", code, stderr)
	}

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	d.wait(t)
	live := readSnapshot(t, db)

	restoredQuiet := filepath.Join(dir, "restored-quiet.db")
	if _, stderr, code = run(t, nil, "restore", quiet, "--db", restoredQuiet); code != 0 || !strings.Contains(stderr, "restored") {
		t.Fatalf("restore: exit %d: %s", code, stderr)
	}
	if got := readSnapshot(t, restoredQuiet); !reflect.DeepEqual(got, live) {
		t.Fatalf("the backup taken after the load differs from the store (%d/%d keys, %d/%d audit entries)",
			len(got.keys), len(live.keys), len(got.audit), len(live.audit))
	}

	restored := filepath.Join(dir, "restored.db")
	if _, stderr, code = run(t, nil, "restore", underLoad, "--db", restored); code != 0 {
		t.Fatalf("restore: exit %d: %s", code, stderr)
	}
	snap := readSnapshot(t, restored)
	n := len(snap.audit)
	if n == 0 || n >= len(live.audit) || !reflect.DeepEqual(snap.audit, live.audit[:n]) {
		t.Fatalf("the audit log of the backup under load is not a prefix of the final one (%d of %d entries)", n, len(live.audit))
	}
	// What the prefix says was created and linked is exactly what the copy holds.
	wantKeys := map[string][]string{}
	wantDomains := map[string][]string{}
	for _, e := range snap.audit {
		id, isKey := strings.CutPrefix(e.Object, "key:")
		switch {
		case isKey && e.Action == model.AuditCreate:
			wantKeys[id] = []string{}
		case isKey && e.Action == model.AuditLink:
			wantKeys[id] = append(wantKeys[id], e.After)
			wantDomains[e.After] = append(wantDomains[e.After], id)
		case e.Action == model.AuditDomainAdd:
			if _, ok := wantDomains[e.After]; !ok {
				wantDomains[e.After] = []string{}
			}
		}
	}
	if len(snap.keys) != len(wantKeys) || len(snap.domains) != len(wantDomains) {
		t.Fatalf("the copy holds %d keys and %d domains, its audit log %d and %d", len(snap.keys), len(snap.domains), len(wantKeys), len(wantDomains))
	}
	for id, doms := range wantKeys {
		k, ok := snap.keys[id]
		slices.Sort(doms)
		if !ok || !slices.Equal(k.Domains, doms) {
			t.Fatalf("key %s in the copy: %+v, its audit log links %v", id, k, doms)
		}
		final := live.keys[id]
		k.Domains, final.Domains = nil, nil
		if !reflect.DeepEqual(k, final) {
			t.Fatalf("key %s differs from the store:\ncopy  %+v\nstore %+v", id, k, final)
		}
	}
	for name, ids := range wantDomains {
		slices.Sort(ids)
		if d, ok := snap.domains[name]; !ok || !slices.Equal(d.Keys, ids) || !d.Created.Equal(live.domains[name].Created) {
			t.Fatalf("domain %s in the copy: %+v, its audit log links %v", name, d, ids)
		}
	}
	if !reflect.DeepEqual(snap.tokens, live.tokens) {
		t.Fatalf("tokens: %+v, want %+v", snap.tokens, live.tokens)
	}
	t.Logf("backup under load: %d of %d audit entries, %d keys, %d domains", n, len(live.audit), len(snap.keys), len(snap.domains))

	// Restore refuses an existing store without --force, and junk.
	if _, stderr, code = run(t, nil, "restore", quiet, "--db", restored); code != 4 || !strings.Contains(stderr, "--force") {
		t.Fatalf("restore over an existing store: exit %d: %s", code, stderr)
	}
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, []byte(strings.Repeat("not a store\n", 1000)), 0o600)
	before, _ := os.ReadFile(restored)
	if _, stderr, code = run(t, nil, "restore", junk, "--db", restored, "--force"); code != 1 || !strings.Contains(stderr, "not a tmaps store") {
		t.Fatalf("restore of junk: exit %d: %s", code, stderr)
	}
	if after, _ := os.ReadFile(restored); !slices.Equal(before, after) {
		t.Fatal("a refused restore changed the store")
	}
	// --force replaces it.
	if _, stderr, code = run(t, nil, "restore", quiet, "--db", restored, "--force"); code != 0 {
		t.Fatalf("restore --force: exit %d: %s", code, stderr)
	}
	if got := readSnapshot(t, restored); !reflect.DeepEqual(got, live) {
		t.Fatal("restore --force did not put the backup in place")
	}
}
