package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/tmaps/console/store"
)

// DefaultMaintainEvery is how often UsageMaintenance runs when given 0.
const DefaultMaintainEvery = time.Hour

// UsageMaintenance is the component that keeps usage within SPEC.md's
// bounds: it calls the store's MaintainUsage (store.UsageMaintainer) once
// at start and then every `every` (0: hourly), with the time from now (nil:
// time.Now). On a cluster it runs only while Env.Leader says this node
// leads, and at once when it becomes the leader. A store without
// MaintainUsage gets no component. A failed run is logged and tried again
// at the next tick.
func UsageMaintenance(every time.Duration, now func() time.Time) ComponentFunc {
	if every <= 0 {
		every = DefaultMaintainEvery
	}
	if now == nil {
		now = time.Now
	}
	return func(env Env) (Component, error) {
		m, ok := env.Store.(store.UsageMaintainer)
		if !ok {
			return nil, nil
		}
		leader := env.Leader
		if leader == nil {
			leader = func() bool { return true }
		}
		return &maintainer{m: m, every: every, now: now, leader: leader, log: env.Logger.With("component", "usage-maintenance")}, nil
	}
}

type maintainer struct {
	m      store.UsageMaintainer
	every  time.Duration
	now    func() time.Time
	leader func() bool
	log    *slog.Logger

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (m *maintainer) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.wg.Go(func() {
		// The role is looked at every second; a run is due every m.every
		// and when this node becomes the leader.
		t := time.NewTicker(min(m.every, time.Second))
		defer t.Stop()
		var last time.Time
		led := false
		for {
			switch lead := m.leader(); {
			case lead && (!led || time.Since(last) >= m.every):
				m.run(ctx)
				last = time.Now()
			case !lead && led:
				m.log.Info("usage maintenance stops here: another node leads")
			}
			led = m.leader()
			select {
			case <-t.C:
			case <-ctx.Done():
				return
			}
		}
	})
	return nil
}

func (m *maintainer) run(ctx context.Context) {
	start := time.Now()
	rep, err := m.m.MaintainUsage(ctx, m.now())
	switch {
	case err != nil && ctx.Err() == nil:
		m.log.Error("usage maintenance failed; trying again at the next run", "err", err)
	case err == nil && rep != (store.UsageMaintenance{}):
		m.log.Info("usage maintained", "rolled_up_days", rep.RolledUpDays, "pruned_records", rep.PrunedRecords, "took", time.Since(start))
	}
}

// Stop ends the loop and waits for a run in progress.
func (m *maintainer) Stop(ctx context.Context) error {
	m.cancel()
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
