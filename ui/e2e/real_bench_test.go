package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/internal/testkit"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
)

// seedVersion names the layout of the seeded store; change it when
// seedBig changes, so a cached copy is made again.
const seedVersion = "v1"

// seedBig returns a store file with 100,000 keys (one in eight linked to
// a domain, of 200), about 137,000 audit entries, and 24 hours of usage for
// 2,000 keys, made once and kept in the temporary directory (it takes a
// while); the caller gets its own copy.
func seedBig(b *testing.B) string {
	b.Helper()
	cache := filepath.Join(os.TempDir(), "tmaps-bench-100k-"+seedVersion+".db")
	if _, err := os.Stat(cache); err != nil {
		tmp := cache + ".tmp"
		os.Remove(tmp)
		st, err := bolt.Open(tmp, bolt.Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		ctx := store.WithActor(context.Background(), "seed")
		var doms []string
		for i := range 200 {
			d, err := st.AddDomain(ctx, fmt.Sprintf("site%03d.example.tn", i))
			if err != nil {
				b.Fatal(err)
			}
			doms = append(doms, d.Name)
		}
		now := time.Now().UTC().Truncate(time.Hour)
		var deltas []store.UsageDelta
		for i := range 100_000 {
			k, _, err := st.CreateKey(ctx, fmt.Sprintf("customer %d web app", i), model.Policy{})
			if err != nil {
				b.Fatal(err)
			}
			if i%8 < 3 {
				if _, err := st.LinkKey(ctx, k.ID, doms[i%len(doms)]); err != nil {
					b.Fatal(err)
				}
			}
			if i%50 == 0 {
				for h := range 24 {
					hour := now.Add(-time.Duration(h) * time.Hour)
					deltas = append(deltas, store.UsageDelta{KeyID: k.ID, Hour: hour, Allowed: uint64(10 + (i+h)%90),
						Forbidden: uint64(h % 3), LastUsed: hour.Add(30 * time.Minute)})
				}
			}
		}
		for len(deltas) > 0 {
			n := min(len(deltas), 1000)
			if err := st.RecordUsage(ctx, deltas[:n]); err != nil {
				b.Fatal(err)
			}
			deltas = deltas[n:]
		}
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(tmp, cache); err != nil {
			b.Fatal(err)
		}
	}
	dst := filepath.Join(b.TempDir(), "console.db")
	src, err := os.Open(cache)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	out, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, src); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
	return dst
}

// procKB reads a field of /proc/PID/status in kB.
func procKB(b *testing.B, pid int, field string) float64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, field+":"); ok {
			v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
			if err != nil {
				b.Fatal(err)
			}
			return v
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// cpuTime is the user and system CPU the process used so far.
func cpuTime(b *testing.B, pid int) time.Duration {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// the command may hold spaces: the fields start after its ")"
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	ut, _ := strconv.Atoi(f[11])
	stt, _ := strconv.Atoi(f[12])
	return time.Duration(ut+stt) * 10 * time.Millisecond // USER_HZ is 100
}

// settle waits until the process used no CPU for 300 ms (it has drawn and
// finished what a key started), and returns its CPU time then.
func settle(b *testing.B, pid int) time.Duration {
	b.Helper()
	last := cpuTime(b, pid)
	still := time.Now()
	deadline := time.Now().Add(60 * time.Second)
	for time.Since(still) < 300*time.Millisecond {
		if time.Now().After(deadline) {
			b.Fatal("the console never went idle")
		}
		time.Sleep(20 * time.Millisecond)
		if c := cpuTime(b, pid); c != last {
			last, still = c, time.Now()
		}
	}
	return last
}

// BenchmarkRealConsole100k runs the real binary in tmux on a store of
// 100,000 keys and about 137,000 audit entries and reports, per run: the
// first frame (exec to the keys list drawn: wall time, and the CPU the
// process used by then, which other load on the machine moves less), the
// CPU the Audit tab takes to open, and the largest RssAnon (/proc/PID/status) seen on each tab
// (and each view of the Audit tab) while every one is shown three times in
// turn. Run with -benchtime 1x; BENCHMARKS.md has the figures.
func BenchmarkRealConsole100k(b *testing.B) {
	need(b, "tmux")
	bin := testkit.Binary(b)
	tabs := []struct{ name, key, shows string }{
		{"keys", "1", "of 100,000 keys"},
		{"domains", "2", "of 200 domains"},
		{"usage", "3", "Last 24 hours"},
		{"audit", "4", " entries"},
		{"hygiene", "Right", " findings"},
		{"alerts", "Right", " alerts"},
	}
	for b.Loop() {
		b.StopTimer()
		db := seedBig(b)
		tm := testkit.NewTmux(b, "set -g escape-time 0")
		tm.Timeout = 60 * time.Second
		t0 := time.Now()
		tm.Start("c", 120, 40, "env", "HOME="+b.TempDir(), "TERM=xterm-256color", bin, "--db", db)
		pid, err := strconv.Atoi(strings.TrimSpace(tm.Display("c", "#{pane_pid}")))
		if err != nil {
			b.Fatal(err)
		}
		waitFast(b, tm, tabs[0].shows)
		first, firstCPU := time.Since(t0), cpuTime(b, pid)
		settle(b, pid)

		rss := map[string]float64{}
		var auditCPU time.Duration
		for round := range 3 {
			for _, tab := range tabs {
				before := cpuTime(b, pid)
				tm.Send("c", tab.key)
				tm.WaitFor("c", tab.shows)
				after := settle(b, pid)
				if tab.name == "audit" && round == 0 {
					auditCPU = after - before
				}
				rss[tab.name] = max(rss[tab.name], procKB(b, pid, "RssAnon")/1024)
			}
			tm.Send("c", "Right") // back to the log for the next round
			tm.WaitFor("c", " entries")
			settle(b, pid)
		}
		b.ReportMetric(float64(first.Milliseconds()), "first-frame-ms")
		b.ReportMetric(float64(firstCPU.Milliseconds()), "first-frame-cpu-ms")
		b.ReportMetric(float64(auditCPU.Milliseconds()), "audit-open-cpu-ms")
		worst := 0.0
		for _, tab := range tabs {
			b.ReportMetric(rss[tab.name], "RssAnon-MB-"+tab.name)
			worst = max(worst, rss[tab.name])
		}
		b.ReportMetric(worst, "RssAnon-MB-max")
		tm.Send("c", "q")
		b.StartTimer()
	}
}

// waitFast waits for s on screen, polling every 5 ms (WaitFor polls every
// 50 ms, too coarse for a first frame).
func waitFast(b *testing.B, tm *testkit.Tmux, s string) {
	b.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(tm.Capture("c"), s) {
		if time.Now().After(deadline) {
			b.Fatalf("%q never showed:\n%s", s, tm.Capture("c"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
