package server_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/server"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
)

// The daemon's usage maintenance runs once at start (and then on its
// ticker): old hours roll up into a daily bucket without anyone asking.
func TestDaemonMaintainsUsage(t *testing.T) {
	db := filepath.Join(t.TempDir(), "console.db")
	st, err := bolt.Open(db, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	k, _, err := st.CreateKey(ctx, "old", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().UTC().Truncate(24 * time.Hour).Add(-50 * 24 * time.Hour)
	if err := st.RecordUsage(ctx, []store.UsageDelta{{KeyID: k.ID, Hour: old.Add(3 * time.Hour), Allowed: 7}}); err != nil {
		t.Fatal(err)
	}
	events, err := st.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d, err := server.NewDaemon(server.DaemonConfig{
		OpenStore: func(context.Context) (server.DaemonStore, error) { return st, nil },
		Location:  db, Listen: "127.0.0.1:0", AllowHTTP: true, FlushEvery: time.Hour,
		Components: []server.ComponentFunc{server.UsageMaintenance(time.Hour, nil)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Kind != store.EventUsage {
				continue
			}
			u, err := st.Usage(ctx, store.UsageQuery{KeyID: k.ID, Since: old.Add(-time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			if len(u) == 1 && u[0].Daily && u[0].Allowed == 7 {
				return
			}
		case <-deadline:
			t.Fatal("the daemon did not roll up the old hours")
		}
	}
}
