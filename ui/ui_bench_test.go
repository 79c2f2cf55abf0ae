package ui

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"golang.org/x/sys/unix"
)

// bigData is n keys (each linked to 0–2 of 200 domains, every status) and
// the domains, like a large production store.
func bigData(n int) ([]model.Key, []model.Domain) {
	doms := make([]model.Domain, 200)
	for i := range doms {
		name := fmt.Sprintf("site%03d.example.tn", i)
		doms[i] = model.Domain{Name: name, Unicode: name, Created: fixedNow}
	}
	keys := make([]model.Key, n)
	statuses := []model.Status{model.Active, model.Active, model.Active, model.Disabled, model.Revoked}
	for i := range keys {
		k := model.Key{
			ID: fmt.Sprintf("k%012x", i), Name: fmt.Sprintf("customer %d web app", i),
			Prefix: fmt.Sprintf("ak_%08x", uint32(i)*2654435761), Status: statuses[i%len(statuses)],
			Created: fixedNow.Add(-time.Duration(i) * time.Minute), StatusChanged: fixedNow,
		}
		for j := range i % 3 {
			d := (i + j*7) % len(doms)
			k.Domains = append(k.Domains, doms[d].Name)
			doms[d].Keys = append(doms[d].Keys, k.ID)
		}
		slices.Sort(k.Domains)
		keys[i] = k
	}
	return keys, doms
}

// listStore serves fixed data; only what the console reads at start-up.
type listStore struct {
	store.Store
	keys []model.Key
	doms []model.Domain
}

func (s *listStore) Keys(context.Context) ([]model.Key, error) {
	out := make([]model.Key, len(s.keys))
	copy(out, s.keys)
	return out, nil
}
func (s *listStore) Domains(context.Context) ([]model.Domain, error) {
	return slices.Clone(s.doms), nil
}
func (s *listStore) Watch(ctx context.Context) (<-chan store.Event, error) {
	ch := make(chan store.Event)
	go func() { <-ctx.Done(); close(ch) }()
	return ch, nil
}

func loadedApp(b *testing.B, n int) *App {
	keys, doms := bigData(n)
	a := New(Config{Store: &listStore{keys: keys, doms: doms}, Location: "bench", Now: func() time.Time { return fixedNow }})
	b.Cleanup(a.Close)
	a.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	a.Update(dataLoadedMsg{keys: keys, doms: doms})
	return a
}

// opTimes records each operation's wall time and the CPU time its thread
// spent on it (the benchmark's goroutine is locked to its thread): the wall
// time counts the waits for a core when other work loads the machine, the
// CPU time only ours (the GC's assists included, its background workers
// not).
type opTimes struct {
	wall, cpu []time.Duration
	t0, c0    time.Duration
	start     time.Time
}

func newOpTimes(b *testing.B) *opTimes {
	runtime.LockOSThread()
	b.Cleanup(runtime.UnlockOSThread)
	return &opTimes{}
}

func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

func (o *opTimes) begin() { o.start, o.c0 = time.Now(), threadCPU() }

func (o *opTimes) end() {
	o.wall = append(o.wall, time.Since(o.start))
	o.cpu = append(o.cpu, threadCPU()-o.c0)
}

// report reports the 99th percentiles: p99-ms (wall) and p99-cpu-ms.
func (o *opTimes) report(b *testing.B) {
	reportP99(b, o.wall)
	if len(o.cpu) > 0 {
		slices.Sort(o.cpu)
		b.ReportMetric(float64(o.cpu[len(o.cpu)*99/100].Microseconds())/1000, "p99-cpu-ms")
	}
}

// reportMean reports the mean CPU time per operation (cpu-ms/op).
func (o *opTimes) reportMean(b *testing.B) {
	var sum time.Duration
	for _, c := range o.cpu {
		sum += c
	}
	if len(o.cpu) > 0 {
		b.ReportMetric(float64((sum/time.Duration(len(o.cpu))).Microseconds())/1000, "cpu-ms/op")
	}
}

// p99 reports the 99th percentile of the per-operation times.
func reportP99(b *testing.B, d []time.Duration) {
	slices.Sort(d)
	if len(d) > 0 {
		b.ReportMetric(float64(d[len(d)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// BenchmarkNavigate100k is one navigation keystroke (Update + View) in the
// API Keys list of 100,000 keys: mostly ↓, with page jumps.
func BenchmarkNavigate100k(b *testing.B) {
	a := loadedApp(b, 100_000)
	keys := []tea.KeyPressMsg{keyMsg("down"), keyMsg("down"), keyMsg("up"), keyMsg("pgdown"), keyMsg("down"), keyMsg("G"), keyMsg("g")}
	ops := newOpTimes(b)
	i := 0
	for b.Loop() {
		ops.begin()
		a.Update(keys[i%len(keys)])
		_ = a.View()
		ops.end()
		i++
	}
	ops.report(b)
}

// BenchmarkFilterKeystroke100k is one keystroke in the filter field over
// 100,000 keys (Update re-filters synchronously, then View): typing
// "web app 9" one letter at a time, then clearing it.
func BenchmarkFilterKeystroke100k(b *testing.B) {
	a := loadedApp(b, 100_000)
	a.Update(keyMsg("/"))
	var seq []tea.KeyPressMsg
	for _, r := range "customer 9" {
		seq = append(seq, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	seq = append(seq, tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	ops := newOpTimes(b)
	i := 0
	for b.Loop() {
		ops.begin()
		a.Update(seq[i%len(seq)])
		_ = a.View()
		ops.end()
		i++
	}
	ops.report(b)
}

// BenchmarkSortKeystroke100k re-sorts 100,000 keys (the s key).
func BenchmarkSortKeystroke100k(b *testing.B) {
	a := loadedApp(b, 100_000)
	ops := newOpTimes(b)
	for b.Loop() {
		ops.begin()
		a.Update(keyMsg("s"))
		_ = a.View()
		ops.end()
	}
	ops.report(b)
}

// BenchmarkFirstFrame100k is start-up to the first full frame: New, the
// load command (Keys + Domains from the store; here a store that copies
// prepared slices, so the bolt read is not included: see
// store/bolt BenchmarkOpenAndListKeys100k), indexing, and View. It also
// reports the heap the console holds with 100,000 keys loaded.
func BenchmarkFirstFrame100k(b *testing.B) {
	keys, doms := bigData(100_000)
	st := &listStore{keys: keys, doms: doms}
	var heap, base uint64
	{
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base = ms.HeapAlloc // the benchmark's own copy of the data
	}
	ops := newOpTimes(b)
	for b.Loop() {
		ops.begin()
		a := New(Config{Store: st, Location: "bench", Now: func() time.Time { return fixedNow }})
		a.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
		a.Update(a.loadAll()())
		if v := a.View(); len(v.Content) == 0 {
			b.Fatal("empty frame")
		}
		ops.end()
		b.StopTimer()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = ms.HeapAlloc
		runtime.KeepAlive(a)
		a.Close()
		b.StartTimer()
	}
	ops.reportMean(b)
	b.ReportMetric(float64(heap)/(1<<20), "heap-MB")
	b.ReportMetric(float64(heap-base)/(1<<20), "console-heap-MB")
}
