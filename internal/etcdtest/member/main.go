// Command member runs one etcd member with go.etcd.io/etcd/server/v3/embed,
// for tests: the etcdtest harness starts a cluster of them on loopback
// ports. It takes the etcd flags the harness uses (the same names as the
// etcd binary's, so the harness runs Debian's etcd the same way). Being a
// process of its own, a member can be stopped or killed like a real one,
// and the race detector of a test binary does not slow etcd down.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"go.etcd.io/etcd/server/v3/embed"
)

func urls(s string) ([]url.URL, error) {
	var out []url.URL
	for _, part := range strings.Split(s, ",") {
		u, err := url.Parse(part)
		if err != nil {
			return nil, err
		}
		out = append(out, *u)
	}
	return out, nil
}

func main() {
	cfg := embed.NewConfig()
	var lc, ac, lp, ap string
	var noFsync bool
	flag.StringVar(&cfg.Name, "name", "default", "member name")
	flag.StringVar(&cfg.Dir, "data-dir", "", "data directory")
	flag.StringVar(&lc, "listen-client-urls", "", "client URLs to listen on")
	flag.StringVar(&ac, "advertise-client-urls", "", "client URLs to advertise")
	flag.StringVar(&lp, "listen-peer-urls", "", "peer URLs to listen on")
	flag.StringVar(&ap, "initial-advertise-peer-urls", "", "peer URLs to advertise")
	flag.StringVar(&cfg.InitialCluster, "initial-cluster", "", "name=peerURL,...")
	flag.StringVar(&cfg.InitialClusterToken, "initial-cluster-token", "etcd-cluster", "cluster token")
	flag.StringVar(&cfg.ClusterState, "initial-cluster-state", "new", "new or existing")
	flag.StringVar(&cfg.LogLevel, "log-level", "error", "log level")
	flag.BoolVar(&noFsync, "unsafe-no-fsync", false, "no fsync (tests only)")
	flag.StringVar(&cfg.AutoCompactionRetention, "auto-compaction-retention", "0", "history kept (e.g. 1h, or revisions in revision mode)")
	flag.StringVar(&cfg.AutoCompactionMode, "auto-compaction-mode", "periodic", "periodic or revision")
	flag.Parse()
	cfg.UnsafeNoFsync = noFsync
	cfg.EnableGRPCGateway = false
	var err error
	for _, f := range []struct {
		dst *[]url.URL
		s   string
	}{{&cfg.ListenClientUrls, lc}, {&cfg.AdvertiseClientUrls, ac}, {&cfg.ListenPeerUrls, lp}, {&cfg.AdvertisePeerUrls, ap}} {
		if f.s == "" {
			continue
		}
		if *f.dst, err = urls(f.s); err != nil {
			fmt.Fprintln(os.Stderr, "member:", err)
			os.Exit(2)
		}
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "member:", err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	// The harness holds our stdin open: when it goes away, so do we.
	orphan := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(orphan)
	}()
	select {
	case <-sig:
	case <-orphan:
	case err := <-e.Err():
		fmt.Fprintln(os.Stderr, "member:", err)
		e.Close()
		os.Exit(1)
	}
	e.Close()
}
