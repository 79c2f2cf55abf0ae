package store

import (
	"context"
	"sync"
)

// hubBuffer is how many events a subscriber may fall behind before its
// pending events are replaced by a single EventResync.
const hubBuffer = 256

// Hub fans change events out to Watch subscribers. Publish never blocks: a
// subscriber that falls more than hubBuffer events behind gets one
// EventResync instead of the events it missed. The zero value is ready.
type Hub struct {
	mu     sync.Mutex
	subs   map[*sub]struct{}
	closed bool
}

type sub struct {
	mu      sync.Mutex
	pending []Event
	resync  bool
	wake    chan struct{}
}

// Subscribe returns a channel of events that is closed when ctx ends or the
// hub is closed.
func (h *Hub) Subscribe(ctx context.Context) <-chan Event {
	out := make(chan Event)
	s := &sub{wake: make(chan struct{}, 1)}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		close(out)
		return out
	}
	if h.subs == nil {
		h.subs = map[*sub]struct{}{}
	}
	h.subs[s] = struct{}{}
	h.mu.Unlock()

	go func() {
		defer close(out)
		defer h.remove(s)
		for {
			ev, ok := s.next()
			if !ok {
				select {
				case <-ctx.Done():
					return
				case _, open := <-s.wake:
					if !open {
						return
					}
					continue
				}
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

func (s *sub) next() (Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resync {
		s.resync = false
		return Event{Kind: EventResync}, true
	}
	if len(s.pending) == 0 {
		return Event{}, false
	}
	ev := s.pending[0]
	s.pending = s.pending[1:]
	return ev, true
}

func (h *Hub) remove(s *sub) {
	h.mu.Lock()
	delete(h.subs, s)
	h.mu.Unlock()
}

// Publish delivers evs to every subscriber without blocking.
func (h *Hub) Publish(evs ...Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.mu.Lock()
		if len(s.pending)+len(evs) > hubBuffer {
			s.pending = nil
			s.resync = true
		} else {
			s.pending = append(s.pending, evs...)
		}
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Close closes every subscriber's channel; later subscriptions get a closed
// channel.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for s := range h.subs {
		close(s.wake)
	}
	h.subs = nil
}
