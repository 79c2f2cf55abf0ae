package cluster

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tmaps/console/internal/etcdtest"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/etcd"
	"github.com/tmaps/console/store/storetest"
)

// debianCluster starts three members of Debian's etcd (package etcd-server,
// 3.4 on bookworm: what operators on Debian stable run).
func debianCluster(t *testing.T) *etcdtest.Cluster {
	t.Helper()
	bin, err := etcdtest.Debian()
	if err != nil {
		if os.Getenv("TMAPS_SKIP_E2E") == "1" {
			t.Skipf("%v, and TMAPS_SKIP_E2E=1: this end-to-end test did not run", err)
		}
		t.Fatalf("%v; or set TMAPS_SKIP_E2E=1 to skip this test knowingly", err)
	}
	c, err := etcdtest.Start(filepath.Join(t.TempDir(), "etcd"), etcdtest.Options{Binary: bin})
	if err != nil {
		t.Fatalf("start Debian's etcd: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// The conformance suite, and a revoke on one node refused by another,
// against Debian's etcd.
func TestDebianEtcd(t *testing.T) {
	c := debianCluster(t)
	n := 0
	open := func(t *testing.T) *etcd.Store {
		n++
		s, err := etcd.Open(context.Background(), etcd.Options{Endpoints: c.Endpoints, Prefix: fmt.Sprintf("/conformance/%d/", n)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
	})
	t.Run("DaemonConformance", func(t *testing.T) {
		storetest.RunDaemon(t, func(t *testing.T) storetest.DaemonBackend { return open(t) })
	})
	t.Run("RevokeReachesTheOtherNode", func(t *testing.T) {
		e := newEnv(t, c.Endpoints)
		a, b := e.start(t, "A"), e.start(t, "B")
		id, secret := e.createKey(t, a, "debian")
		within(t, b, secret, "", http.StatusNoContent, 5*time.Second)
		e.must(t, a, http.StatusOK, "POST", "/v1/keys/"+id+"/revoke", map[string]string{"confirm": "debian"})
		if took := within(t, b, secret, "", http.StatusUnauthorized, 5*time.Second); took > propagation {
			t.Fatalf("the revoke reached B after %v", took)
		}
		// One member down: everything works.
		c.Stop(2)
		id2, secret2 := e.createKey(t, b, "with two members")
		within(t, a, secret2, "", http.StatusNoContent, 5*time.Second)
		e.must(t, b, http.StatusOK, "POST", "/v1/keys/"+id2+"/disable", nil)
		within(t, a, secret2, "", http.StatusUnauthorized, 5*time.Second)
	})
}
