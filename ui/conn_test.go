package ui

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// downStore is a store whose daemon can be "down": every read and Watch
// then fails with store.ErrUnavailable, as the remote store does.
type downStore struct {
	store.Store
	down  atomic.Bool
	watch func() (<-chan store.Event, error)
}

func (d *downStore) err() error {
	if d.down.Load() {
		return fmt.Errorf("%w: cannot reach the tmaps API at http://127.0.0.1:1: connection refused; is `tmaps serve` running?", store.ErrUnavailable)
	}
	return nil
}

func (d *downStore) Keys(ctx context.Context) ([]model.Key, error) {
	if err := d.err(); err != nil {
		return nil, err
	}
	return d.Store.Keys(ctx)
}

func (d *downStore) Key(ctx context.Context, id string) (model.Key, error) {
	if err := d.err(); err != nil {
		return model.Key{}, err
	}
	return d.Store.Key(ctx, id)
}

func (d *downStore) Domains(ctx context.Context) ([]model.Domain, error) {
	if err := d.err(); err != nil {
		return nil, err
	}
	return d.Store.Domains(ctx)
}

func (d *downStore) Usage(ctx context.Context, q store.UsageQuery) ([]store.UsageBucket, error) {
	if err := d.err(); err != nil {
		return nil, err
	}
	return d.Store.Usage(ctx, q)
}

func (d *downStore) Watch(ctx context.Context) (<-chan store.Event, error) {
	if err := d.err(); err != nil {
		return nil, err
	}
	if d.watch != nil {
		return d.watch()
	}
	return d.Store.Watch(ctx)
}

const header = "disconnected — retrying"

func headerLine(hs *harness) string { return strings.SplitN(hs.screen(), "\n", 2)[0] }

// TestFirstLoadRetriesForever: a console started while the daemon is down
// retries its first load (500 ms, doubled, at most 5 s), says so in the
// header, and fills in once the daemon answers. Before, it showed "Could
// not load the store" until restarted.
func TestFirstLoadRetriesForever(t *testing.T) {
	bs := openStore(t)
	if _, _, err := bs.CreateKey(context.Background(), "alpha web", model.Policy{}); err != nil {
		t.Fatal(err)
	}
	ds := &downStore{Store: bs}
	ds.down.Store(true)
	hs := newHarness(t, ds, 100, 20)
	if h := headerLine(hs); !strings.Contains(h, header) {
		t.Fatalf("header %q lacks %q", h, header)
	}
	hs.want("Could not load the store", "Retrying")
	var delays []time.Duration
	for range 7 {
		delays = append(delays, hs.fire(retryLoadMsg{}))
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second}
	if fmt.Sprint(delays) != fmt.Sprint(want) {
		t.Fatalf("retry delays %v, want %v", delays, want)
	}
	if n := hs.pending(retryLoadMsg{}); n != 1 {
		t.Fatalf("%d reloads pending, want 1", n)
	}
	ds.down.Store(false)
	hs.fire(retryLoadMsg{})
	hs.want("alpha web")
	hs.wantNot(header, "Could not load")
	if n := hs.pending(retryLoadMsg{}); n != 0 {
		t.Fatalf("%d reloads pending once loaded", n)
	}
}

// TestOfflineMarksStaleThenClears: when the event stream says the store is
// offline, the header says "disconnected — retrying" and that the data is
// stale; once the stream is back (resync) and a reload works, the header
// and every error banner clear, and the changes made meanwhile show.
// Before, a console with its daemon killed showed old data as if live.
func TestOfflineMarksStaleThenClears(t *testing.T) {
	bs := openStore(t)
	ctx := context.Background()
	if _, _, err := bs.CreateKey(ctx, "alpha web", model.Policy{}); err != nil {
		t.Fatal(err)
	}
	ds := &downStore{Store: bs}
	hs := newHarness(t, ds, 110, 20)
	hs.want("alpha web")

	ds.down.Store(true)
	hs.send(storeEventsMsg{evs: []store.Event{{Kind: store.EventOffline}}})
	h := headerLine(hs)
	if !strings.Contains(h, header) || !strings.Contains(h, "stale") || !strings.Contains(h, "10:00:00") {
		t.Fatalf("header %q: want %q, stale, and the time of the data", h, header)
	}
	// An action while the daemon is down fails with a banner.
	hs.send(opDoneMsg{err: ds.err()})
	hs.want("cannot reach the tmaps API")
	// Usage reloads fail quietly (the header says it all).
	hs.send(usageTickMsg{})
	hs.want("cannot reach the tmaps API")
	hs.wantNot("Usage could not be loaded")

	// Meanwhile the daemon changes.
	if _, _, err := bs.CreateKey(ctx, "beta mobile", model.Policy{}); err != nil {
		t.Fatal(err)
	}
	ds.down.Store(false)
	hs.send(storeEventsMsg{evs: []store.Event{{Kind: store.EventResync}}})
	hs.want("alpha web", "beta mobile")
	hs.wantNot(header, "stale", "cannot reach")
}

// TestWatchRetriesForever: a Watch that cannot reach the store is tried
// again (and again), and a stream that ends is opened again; after it
// works everything is reloaded, since changes were missed. Before, the
// console said "live refresh off" for good.
func TestWatchRetriesForever(t *testing.T) {
	bs := openStore(t)
	ctx := context.Background()
	if _, _, err := bs.CreateKey(ctx, "alpha web", model.Policy{}); err != nil {
		t.Fatal(err)
	}
	ds := &downStore{Store: bs}
	hs := newHarness(t, ds, 110, 20)
	hs.passWatch = true
	closed := make(chan store.Event)
	close(closed)
	ds.watch = func() (<-chan store.Event, error) { return closed, nil }

	ds.down.Store(true)
	hs.send(watchStartedMsg{err: ds.err()})
	if h := headerLine(hs); !strings.Contains(h, header) {
		t.Fatalf("header %q lacks %q", h, header)
	}
	hs.wantNot("live refresh off")
	if d := hs.fire(retryWatchMsg{}); d != 500*time.Millisecond {
		t.Fatalf("first retry after %v", d)
	}
	if d := hs.fire(retryWatchMsg{}); d != time.Second {
		t.Fatalf("second retry after %v", d)
	}
	if _, _, err := bs.CreateKey(ctx, "beta mobile", model.Policy{}); err != nil {
		t.Fatal(err)
	}
	// The daemon is back, but its stream ends at once: the console opens
	// it again.
	ds.down.Store(false)
	hs.fire(retryWatchMsg{})
	hs.want("beta mobile")
	if n := hs.pending(retryWatchMsg{}); n != 1 {
		t.Fatalf("after the stream ended: %d watches pending, want 1", n)
	}
	if h := headerLine(hs); !strings.Contains(h, header) {
		t.Fatalf("with the stream ended, header %q lacks %q", h, header)
	}
	live := make(chan store.Event, 1)
	live <- store.Event{Kind: store.EventUsage}
	ds.watch = func() (<-chan store.Event, error) { return live, nil }
	hs.fire(retryWatchMsg{})
	hs.wantNot(header)
}
