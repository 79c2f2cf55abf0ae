package etcd_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tmaps/console/internal/etcdtest"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/etcd"
	"github.com/tmaps/console/store/storetest"
)

func TestMain(m *testing.M) { etcdtest.Main(m) }

var prefixes atomic.Int64

// client returns a client of the shared 3-member cluster, closed with t.
func client(t testing.TB) *clientv3.Client {
	t.Helper()
	c := etcdtest.Shared(t)
	cli, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// fresh opens a store under a prefix no other test uses.
func fresh(t testing.TB, opt etcd.Options) *etcd.Store {
	t.Helper()
	if opt.Prefix == "" {
		opt.Prefix = fmt.Sprintf("/test/%d-%d/", prefixes.Add(1), os.Getpid())
	}
	opt.Endpoints = etcdtest.Shared(t).Endpoints
	s, err := etcd.Open(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return fresh(t, etcd.Options{}) })
}

func TestDaemonConformance(t *testing.T) {
	storetest.RunDaemon(t, func(t *testing.T) storetest.DaemonBackend { return fresh(t, etcd.Options{}) })
}
