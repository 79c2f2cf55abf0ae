package ui

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// benchStore serves fixed keys, domains and audit entries from memory, and
// no usage: what the pages read, without a disk in the measure.
type benchStore struct {
	listStore
	audit []model.AuditEntry // newest first
}

func (s *benchStore) Audit(_ context.Context, q store.AuditQuery) ([]model.AuditEntry, error) {
	var out []model.AuditEntry
	for _, e := range s.audit {
		if !q.Match(&e) {
			continue
		}
		out = append(out, e)
		if q.Limit > 0 && len(out) >= q.Limit {
			break
		}
	}
	return out, nil
}

func (s *benchStore) Usage(context.Context, store.UsageQuery) ([]store.UsageBucket, error) {
	return nil, nil
}

func (s *benchStore) RefusedHosts(context.Context, string) ([]store.RefusedHost, error) {
	return nil, nil
}

// benchAudit is n audit entries over the keys, newest first.
func benchAudit(keys []model.Key, n int) []model.AuditEntry {
	out := make([]model.AuditEntry, n)
	actions := []string{"create", "rename", "disable", "enable", "link", "unlink"}
	for i := range out {
		k := &keys[i%len(keys)]
		out[i] = model.AuditEntry{Seq: uint64(n - i), Time: fixedNow.Add(-time.Duration(i) * time.Minute),
			Actor: fmt.Sprintf("operator%d", i%7), Action: actions[i%len(actions)], Object: "key:" + k.ID,
			After: k.Name}
	}
	return out
}

// benchDrive sends msg to the app and runs the commands it returns, and
// theirs, synchronously (the bench store never blocks; the store
// subscription is not started).
func benchDrive(a *App, msg tea.Msg) {
	_, cmd := a.Update(msg)
	benchRun(a, cmd)
}

func benchRun(a *App, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	msg := cmd()
	switch m := msg.(type) {
	case nil, watchStartedMsg:
		return
	case tea.BatchMsg:
		for _, c := range m {
			benchRun(a, c)
		}
		return
	}
	if v := reflect.ValueOf(msg); v.Kind() == reflect.Slice && v.Type().Elem() == reflect.TypeOf(tea.Cmd(nil)) {
		for i := 0; i < v.Len(); i++ {
			benchRun(a, v.Index(i).Interface().(tea.Cmd))
		}
		return
	}
	benchDrive(a, msg)
}

// BenchmarkKeystroke is one navigation keystroke (Update + View) on each
// page, with 100,000 keys, 200 domains and 137,000 audit entries: mostly ↓,
// with page jumps, to the end and back. It reports the p99.
func BenchmarkKeystroke(b *testing.B) {
	keys, doms := bigData(100_000)
	st := &benchStore{listStore: listStore{keys: keys, doms: doms}, audit: benchAudit(keys, 137_000)}
	for _, page := range []struct {
		name string
		keys []string
	}{
		{"keys", nil},
		{"domains", []string{"2"}},
		{"key-detail", []string{"1", "enter"}},
		{"domain-detail", []string{"2", "enter"}},
		{"usage", []string{"3"}},
		{"audit", []string{"4"}},
		{"hygiene", []string{"4", "right"}},
	} {
		b.Run(page.name, func(b *testing.B) {
			a := New(Config{Store: st, Location: "bench", Now: func() time.Time { return fixedNow }})
			b.Cleanup(a.Close)
			benchDrive(a, tea.WindowSizeMsg{Width: 120, Height: 40})
			benchRun(a, a.loadAll())
			for _, k := range page.keys {
				benchDrive(a, benchKey(k))
			}
			seq := []tea.KeyPressMsg{keyMsg("down"), keyMsg("down"), keyMsg("up"), keyMsg("pgdown"), keyMsg("down"), keyMsg("G"), keyMsg("g")}
			times := make([]time.Duration, 0, b.N)
			i := 0
			for b.Loop() {
				t0 := time.Now()
				benchDrive(a, seq[i%len(seq)])
				_ = a.View()
				times = append(times, time.Since(t0))
				i++
			}
			reportP99(b, times)
		})
	}
}

func benchKey(name string) tea.KeyPressMsg {
	if name == "right" {
		return tea.KeyPressMsg{Code: tea.KeyRight}
	}
	return keyMsg(name)
}
