package ui

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// benchStore serves fixed keys, domains, audit entries and alerts from
// memory, and no usage: what the pages read, without a disk in the measure.
type benchStore struct {
	listStore
	audit  []model.AuditEntry // newest first
	alerts []model.Alert      // newest first
}

func newBenchStore(n, audit int) *benchStore {
	keys, doms := bigData(n)
	return &benchStore{listStore: listStore{keys: keys, doms: doms}, audit: benchAudit(keys, audit), alerts: benchAlerts(keys, 2000)}
}

func (s *benchStore) Alerts(_ context.Context, q store.AlertQuery) ([]model.Alert, error) {
	out := s.alerts
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return slices.Clone(out), nil
}

// benchAlerts is n alerts over the keys, newest first.
func benchAlerts(keys []model.Key, n int) []model.Alert {
	out := make([]model.Alert, n)
	kinds := []model.AlertKind{model.AlertSpike, model.AlertRefused, model.AlertExpiring, model.AlertLeak, model.AlertRevoked, model.AlertDisabled}
	for i := range out {
		k := &keys[(i*37)%len(keys)]
		out[i] = model.Alert{ID: fmt.Sprintf("al%016x", i), Kind: kinds[i%len(kinds)], Time: fixedNow.Add(-time.Duration(i) * time.Hour),
			KeyID: k.ID, KeyName: k.Name, KeyPrefix: k.Prefix, Summary: fmt.Sprintf("%d requests in an hour, usually 40", 400+i)}
	}
	return out
}

func (s *benchStore) Audit(_ context.Context, q store.AuditQuery) ([]model.AuditEntry, error) {
	var out []model.AuditEntry
	from := 0
	if q.Before > 0 { // as a store would: start at the cursor, not at the newest
		from = sort.Search(len(s.audit), func(i int) bool { return s.audit[i].Seq < q.Before })
	}
	for _, e := range s.audit[from:] {
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

// benchPages are the pages the per-page benchmarks open: the keys to get
// there from the keys list.
var benchPages = []struct {
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
	{"alerts", []string{"4", "right", "right"}},
}

// benchApp is a console on st at 120×40 with the data loaded.
func benchApp(b *testing.B, st store.Store) *App {
	a := New(Config{Store: st, Location: "bench", Now: func() time.Time { return fixedNow }})
	b.Cleanup(a.Close)
	benchDrive(a, tea.WindowSizeMsg{Width: 120, Height: 40})
	benchRun(a, a.loadAll())
	return a
}

// BenchmarkKeystroke is one navigation keystroke (Update + View) on each
// page, with 100,000 keys, 200 domains, 137,000 audit entries and 2,000
// alerts: mostly ↓, with page jumps, to the end and back. It reports the
// p99 of the wall time and of the CPU time (target ≤ 4 ms).
func BenchmarkKeystroke(b *testing.B) {
	st := newBenchStore(100_000, 137_000)
	for _, page := range benchPages {
		b.Run(page.name, func(b *testing.B) {
			a := benchApp(b, st)
			for _, k := range page.keys {
				benchDrive(a, benchKey(k))
			}
			seq := []tea.KeyPressMsg{keyMsg("down"), keyMsg("down"), keyMsg("up"), keyMsg("pgdown"), keyMsg("down"), keyMsg("G"), keyMsg("g")}
			ops := newOpTimes(b)
			i := 0
			for b.Loop() {
				ops.begin()
				benchDrive(a, seq[i%len(seq)])
				_ = a.View()
				ops.end()
				i++
			}
			ops.report(b)
		})
	}
}

// BenchmarkOpenTab is showing each page from the keys list (a tab, a view
// of the Audit tab, the screen of the first key or domain), with the data
// of BenchmarkKeystroke: the last key, the store reads it starts (run
// synchronously here) and the first View. Targets: the Audit tab ≤ 100 ms
// of CPU, every page's first frame ≤ 300 ms.
func BenchmarkOpenTab(b *testing.B) {
	st := newBenchStore(100_000, 137_000)
	for _, page := range benchPages {
		if page.name == "keys" {
			continue
		}
		b.Run(page.name, func(b *testing.B) {
			a := benchApp(b, st)
			audit := a.stacks[3][0].(*auditPage)
			ops := newOpTimes(b)
			for b.Loop() {
				b.StopTimer()
				benchDrive(a, keyMsg("1"))
				for _, k := range page.keys[:len(page.keys)-1] {
					benchDrive(a, benchKey(k))
				}
				b.StartTimer()
				ops.begin()
				benchDrive(a, benchKey(page.keys[len(page.keys)-1]))
				_ = a.View()
				ops.end()
				b.StopTimer()
				for len(a.stacks[a.active]) > 1 { // back to the list
					benchDrive(a, keyMsg("esc"))
				}
				for audit.view != viewLog { // the log, for the next time
					benchDrive(a, keyMsg("4"))
					benchDrive(a, benchKey("right"))
				}
				b.StartTimer()
			}
			ops.reportMean(b)
		})
	}
}

func benchKey(name string) tea.KeyPressMsg {
	if name == "right" {
		return tea.KeyPressMsg{Code: tea.KeyRight}
	}
	return keyMsg(name)
}
