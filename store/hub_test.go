package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tmaps/console/store"
)

// recv reads one event or fails after a while.
func recv(t *testing.T, ch <-chan store.Event) (store.Event, bool) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		return ev, ok
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return store.Event{}, false
}

func waitClosed(t *testing.T, ch <-chan store.Event) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("channel not closed within 5s")
		}
	}
}

func TestHubDeliversInOrder(t *testing.T) {
	var h store.Hub // the zero value is ready
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := h.Subscribe(ctx), h.Subscribe(ctx)
	for i := range 100 {
		h.Publish(store.Event{Kind: store.EventKey, ID: fmt.Sprint(i), Action: "create"})
	}
	for _, ch := range []<-chan store.Event{a, b} {
		for i := range 100 {
			ev, ok := recv(t, ch)
			if !ok || ev.Kind != store.EventKey || ev.ID != fmt.Sprint(i) || ev.Action != "create" {
				t.Fatalf("event %d = %+v (open %v)", i, ev, ok)
			}
		}
	}
	// Several events in one Publish arrive together, in order.
	h.Publish(store.Event{Kind: store.EventDomain, ID: "x.tn"}, store.Event{Kind: store.EventUsage})
	if ev, _ := recv(t, a); ev.Kind != store.EventDomain || ev.ID != "x.tn" {
		t.Fatalf("got %+v", ev)
	}
	if ev, _ := recv(t, a); ev.Kind != store.EventUsage {
		t.Fatalf("got %+v", ev)
	}
}

func TestHubSlowSubscriberGetsResync(t *testing.T) {
	var h store.Hub
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow := h.Subscribe(ctx)
	fast := h.Subscribe(ctx)
	done := make(chan int)
	go func() {
		n := 0
		for ev := range fast {
			if ev.Kind == store.EventKey {
				n++
			}
			if ev.ID == "last" {
				break
			}
		}
		done <- n
	}()
	// Publish never blocks, even with a subscriber that reads nothing.
	const total = 5000
	for i := range total {
		h.Publish(store.Event{Kind: store.EventKey, ID: fmt.Sprint(i)})
		if i%100 == 0 {
			time.Sleep(time.Millisecond) // let the fast reader keep up
		}
	}
	h.Publish(store.Event{Kind: store.EventKey, ID: "last"})
	select {
	case n := <-done:
		if n == 0 {
			t.Fatal("the fast subscriber got nothing")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the fast subscriber was blocked")
	}
	// The slow subscriber gets at most a few events before one EventResync,
	// then the events published after it fell behind.
	var got []store.Event
	for {
		ev, ok := recv(t, slow)
		if !ok {
			t.Fatal("slow channel closed")
		}
		got = append(got, ev)
		if ev.Kind == store.EventResync {
			break
		}
		if len(got) > 300 {
			t.Fatalf("no EventResync after %d events", len(got))
		}
	}
	h.Publish(store.Event{Kind: store.EventDomain, ID: "after"})
	for {
		ev, _ := recv(t, slow)
		if ev.Kind == store.EventResync {
			t.Fatal("a second resync without falling behind again")
		}
		if ev.ID == "after" {
			break
		}
	}
}

func TestHubContextCancelClosesChannel(t *testing.T) {
	var h store.Hub
	ctx, cancel := context.WithCancel(context.Background())
	ch := h.Subscribe(ctx)
	other := h.Subscribe(context.Background())
	h.Publish(store.Event{Kind: store.EventUsage})
	cancel()
	waitClosed(t, ch)
	// The other subscriber is unaffected.
	if ev, ok := recv(t, other); !ok || ev.Kind != store.EventUsage {
		t.Fatalf("other subscriber got %+v", ev)
	}
	h.Publish(store.Event{Kind: store.EventKey, ID: "k"})
	if ev, ok := recv(t, other); !ok || ev.ID != "k" {
		t.Fatalf("other subscriber got %+v", ev)
	}
	h.Close()
	waitClosed(t, other)
}

func TestHubClose(t *testing.T) {
	var h store.Hub
	chs := []<-chan store.Event{h.Subscribe(context.Background()), h.Subscribe(context.Background())}
	h.Close()
	for _, ch := range chs {
		waitClosed(t, ch)
	}
	h.Publish(store.Event{Kind: store.EventUsage}) // no panic, nobody to tell
	h.Close()                                      // twice is fine
	waitClosed(t, h.Subscribe(context.Background()))
}

func TestHubCloseWhileBlocked(t *testing.T) {
	// A subscriber that never reads must not keep its goroutine forever once
	// the hub is closed and its context ends.
	var h store.Hub
	ctx, cancel := context.WithCancel(context.Background())
	ch := h.Subscribe(ctx)
	for range 10 {
		h.Publish(store.Event{Kind: store.EventUsage})
	}
	h.Close()
	cancel()
	waitClosed(t, ch)
}
