package gate

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/tmaps/console/model"
)

// Outcomes of a decision, as the metrics label them.
var outcomeNames = [...]string{"allowed", "unauthorized", "forbidden", "limited"}

// numReasons bounds model.Reason values counted separately; larger ones
// share the last slot.
const numReasons = 24

// padded is an atomic counter alone on its cache line, so that counting
// different reasons on different cores does not contend.
type padded struct {
	n atomic.Uint64
	_ [56]byte
}

// histogram is a cumulative-at-write Prometheus histogram of durations.
type histogram struct {
	bounds []time.Duration
	counts []padded // len(bounds)+1, the last is +Inf
	sum    atomic.Int64
}

func newHistogram(bounds ...time.Duration) histogram {
	return histogram{bounds: bounds, counts: make([]padded, len(bounds)+1)}
}

func (h *histogram) observe(d time.Duration) {
	i := 0
	for i < len(h.bounds) && d > h.bounds[i] {
		i++
	}
	h.counts[i].n.Add(1)
	h.sum.Add(int64(d))
}

func (h *histogram) write(w io.Writer, name string) {
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i].n.Load()
		fmt.Fprintf(w, "%s_bucket{le=\"%g\"} %d\n", name, b.Seconds(), cum)
	}
	cum += h.counts[len(h.bounds)].n.Load()
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n", name, cum)
	fmt.Fprintf(w, "%s_sum %g\n", name, time.Duration(h.sum.Load()).Seconds())
	fmt.Fprintf(w, "%s_count %d\n", name, cum)
}

// Every reason has its own slot.
var _ [numReasons - model.NumReasons]struct{}

type metrics struct {
	decisions    [len(outcomeNames)][numReasons]padded
	latency      histogram
	flush        histogram
	flushErrors  atomic.Uint64
	droppedHosts atomic.Uint64
}

func (m *metrics) init() {
	m.latency = newHistogram(
		250*time.Nanosecond, 500*time.Nanosecond, time.Microsecond, 2500*time.Nanosecond,
		5*time.Microsecond, 10*time.Microsecond, 25*time.Microsecond, 50*time.Microsecond,
		100*time.Microsecond, 250*time.Microsecond, time.Millisecond, 10*time.Millisecond)
	m.flush = newHistogram(
		time.Millisecond, 5*time.Millisecond, 10*time.Millisecond, 25*time.Millisecond,
		50*time.Millisecond, 100*time.Millisecond, 250*time.Millisecond, time.Second, 5*time.Second)
}

func outcomeOf(status int) int {
	switch status {
	case 200:
		return 0
	case 401:
		return 1
	case 429:
		return 3
	}
	return 2
}

func (m *metrics) decision(d model.Decision) {
	r := int(d.Reason)
	if r >= numReasons {
		r = numReasons - 1
	}
	m.decisions[outcomeOf(d.Status)][r].n.Add(1)
}

func (m *metrics) observe(d time.Duration) { m.latency.observe(d) }

func (m *metrics) flushed(d time.Duration, err error) {
	m.flush.observe(d)
	if err != nil {
		m.flushErrors.Add(1)
	}
}

// WriteMetrics writes the gate's metrics in the Prometheus text exposition
// format: decisions by outcome and reason, the latency of the HTTP gate
// (AuthorizeHandler and Middleware), the duration and failures of usage
// flushes, refused hosts dropped by the per-key cap, and the index size.
func (g *Gate) WriteMetrics(w io.Writer) {
	m := &g.met
	fmt.Fprintln(w, "# HELP tmaps_gate_decisions_total Gate decisions by outcome and by the SPEC.md rule that made them.")
	fmt.Fprintln(w, "# TYPE tmaps_gate_decisions_total counter")
	for o, name := range outcomeNames {
		for r := range numReasons {
			n := m.decisions[o][r].n.Load()
			if n == 0 {
				continue
			}
			fmt.Fprintf(w, "tmaps_gate_decisions_total{outcome=%q,reason=%q} %d\n", name, model.Reason(r).String(), n)
		}
	}
	fmt.Fprintln(w, "# HELP tmaps_gate_request_duration_seconds Time the HTTP gate takes to decide and answer one request.")
	fmt.Fprintln(w, "# TYPE tmaps_gate_request_duration_seconds histogram")
	m.latency.write(w, "tmaps_gate_request_duration_seconds")
	fmt.Fprintln(w, "# HELP tmaps_gate_usage_flush_duration_seconds Time one usage flush takes, store write included.")
	fmt.Fprintln(w, "# TYPE tmaps_gate_usage_flush_duration_seconds histogram")
	m.flush.write(w, "tmaps_gate_usage_flush_duration_seconds")
	fmt.Fprintln(w, "# HELP tmaps_gate_usage_flush_errors_total Usage flushes the store refused (their counts are retried).")
	fmt.Fprintln(w, "# TYPE tmaps_gate_usage_flush_errors_total counter")
	fmt.Fprintf(w, "tmaps_gate_usage_flush_errors_total %d\n", m.flushErrors.Load())
	fmt.Fprintln(w, "# HELP tmaps_gate_refused_hosts_dropped_total Refused hosts not remembered because a key reached the per-flush cap.")
	fmt.Fprintln(w, "# TYPE tmaps_gate_refused_hosts_dropped_total counter")
	fmt.Fprintf(w, "tmaps_gate_refused_hosts_dropped_total %d\n", m.droppedHosts.Load())
	fmt.Fprintln(w, "# HELP tmaps_gate_index_keys Keys in the gate's in-memory index.")
	fmt.Fprintln(w, "# TYPE tmaps_gate_index_keys gauge")
	fmt.Fprintf(w, "tmaps_gate_index_keys %d\n", g.idx.size.Load())
}
