package etcd_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
	"github.com/tmaps/console/store/etcd"
	"github.com/tmaps/console/store/storetest"
)

// Everything a bolt store holds goes to etcd and back unchanged: the same
// keys, links, audit log, tokens, usage (hourly and daily), refused and
// matched hosts, last uses, alerts and leak marks, read through each
// store's own methods; the etcd store's backup file is such a bolt store.
func TestExportImportRoundTrip(t *testing.T) {
	c := context.Background()
	dir := t.TempDir()
	src, err := bolt.Open(filepath.Join(dir, "src.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	storetest.Fill(t, src)
	want := storetest.Snapshot(t, src)
	wantCounts, err := store.CountExport(c, src)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the source holds %s", wantCounts)
	if wantCounts.Keys != 4 || wantCounts.Links < 2 || wantCounts.Usage < 4 || wantCounts.Refused < 3 || wantCounts.Matched < 2 || wantCounts.Alerts < 2 {
		t.Fatalf("the filled store counts %s: Fill should put every kind in", wantCounts)
	}

	dst := fresh(t, etcd.Options{Node: "import"})
	if _, err := dst.Import(c, func(fn func(store.Item) error) error { return src.Export(c, fn) }); err != nil {
		t.Fatal(err)
	}
	if d := storetest.SnapshotDiff(want, storetest.Snapshot(t, dst)); d != "" {
		t.Fatalf("etcd after the import: %s", d)
	}
	if got, err := store.CountExport(c, dst); err != nil || got != wantCounts {
		t.Fatalf("etcd counts %s, %v; want %s", got, err, wantCounts)
	}
	if _, err := dst.Import(c, func(fn func(store.Item) error) error { return src.Export(c, fn) }); err == nil {
		t.Fatal("a second import into a prefix with data was accepted")
	}

	back := filepath.Join(dir, "back.db")
	if _, err := bolt.Import(c, back, false, func(fn func(store.Item) error) error { return dst.Export(c, fn) }); err != nil {
		t.Fatal(err)
	}
	b, err := bolt.Open(back, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if d := storetest.SnapshotDiff(want, storetest.Snapshot(t, b)); d != "" {
		t.Fatalf("bolt after the way back: %s", d)
	}
}
