package gate

import (
	"context"
	"errors"
	"sync"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// memStore is the smallest store the gate needs (keys, events, usage), for
// benchmarks over 100k keys and for injecting store failures. Handler tests
// run over the real bolt store.
type memStore struct {
	store.Store // methods the gate never calls panic

	mu       sync.Mutex
	keys     []model.Key
	hub      store.Hub
	usage    []store.UsageDelta
	calls    int
	failNext error
	readErrs int // Key and Keys fail this many more times
	// refuse, when set, refuses a whole batch that holds a delta it
	// returns an error for, as a real store refuses invalid usage.
	refuse func(store.UsageDelta) error
}

// readFail consumes one injected read failure; m.mu is held.
func (m *memStore) readFail() error {
	if m.readErrs > 0 {
		m.readErrs--
		return errStoreDown
	}
	return nil
}

func (m *memStore) add(k model.Key) {
	m.mu.Lock()
	m.keys = append(m.keys, k)
	m.mu.Unlock()
	m.hub.Publish(store.Event{Kind: store.EventKey, ID: k.ID})
}

func (m *memStore) set(id string, f func(*model.Key)) {
	m.mu.Lock()
	for i := range m.keys {
		if m.keys[i].ID == id {
			f(&m.keys[i])
		}
	}
	m.mu.Unlock()
	m.hub.Publish(store.Event{Kind: store.EventKey, ID: id})
}

func (m *memStore) Key(_ context.Context, id string) (model.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.readFail(); err != nil {
		return model.Key{}, err
	}
	for _, k := range m.keys {
		if k.ID == id {
			return k.Clone(), nil
		}
	}
	return model.Key{}, store.ErrKeyNotFound
}

func (m *memStore) Keys(context.Context) ([]model.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.readFail(); err != nil {
		return nil, err
	}
	out := make([]model.Key, len(m.keys))
	for i, k := range m.keys {
		out[i] = k.Clone()
	}
	return out, nil
}

func (m *memStore) Watch(ctx context.Context) (<-chan store.Event, error) {
	return m.hub.Subscribe(ctx), nil
}

func (m *memStore) RecordUsage(_ context.Context, d []store.UsageDelta) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if err := m.failNext; err != nil {
		m.failNext = nil
		return err
	}
	for _, x := range d {
		if m.refuse != nil {
			if err := m.refuse(x); err != nil {
				return err
			}
		}
	}
	for _, x := range d {
		x.RefusedHosts = clone(x.RefusedHosts)
		m.usage = append(m.usage, x)
	}
	return nil
}

func (m *memStore) Close() error { m.hub.Close(); return nil }

func clone(h map[string]uint64) map[string]uint64 {
	if h == nil {
		return nil
	}
	out := make(map[string]uint64, len(h))
	for k, v := range h {
		out[k] = v
	}
	return out
}

var errStoreDown = errors.New("store down")
