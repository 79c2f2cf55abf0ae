package gate

import (
	"io"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

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

// Metric descriptions of the gate's collector. Their names are stable:
// dashboards, alerts and docs refer to them.
var (
	descDecisions = prometheus.NewDesc("tmaps_gate_decisions_total",
		"Gate decisions by outcome and by the SPEC.md rule that made them.", []string{"outcome", "reason"}, nil)
	descLatency = prometheus.NewDesc("tmaps_gate_request_duration_seconds",
		"Time the HTTP gate takes to decide and answer one request.", nil, nil)
	descFlush = prometheus.NewDesc("tmaps_gate_usage_flush_duration_seconds",
		"Time one usage flush takes, store write included.", nil, nil)
	descFlushErrors = prometheus.NewDesc("tmaps_gate_usage_flush_errors_total",
		"Usage flushes the store refused (their counts are retried).", nil, nil)
	descDropped = prometheus.NewDesc("tmaps_gate_refused_hosts_dropped_total",
		"Refused hosts not remembered because a key reached the per-flush cap.", nil, nil)
	descIndexKeys = prometheus.NewDesc("tmaps_gate_index_keys",
		"Keys in the gate's in-memory index.", nil, nil)
	descIndexAge = prometheus.NewDesc("tmaps_gate_index_age_seconds",
		"Seconds since the gate's index last applied a store change (or loaded).", nil, nil)
	descWatching = prometheus.NewDesc("tmaps_gate_index_watching",
		"1 while store changes reach the gate's index, 0 when it no longer follows the store.", nil, nil)
)

// collector exposes the gate's counters to Prometheus. The request path
// keeps counting with its own atomics; a scrape reads them.
type collector Gate

// Collector returns the gate's metrics as a Prometheus collector:
// decisions by outcome and reason, the latency of the HTTP gate
// (AuthorizeHandler and Middleware), the duration and failures of usage
// flushes, refused hosts dropped by the per-key cap, and the index's size,
// age and whether it follows the store.
func (g *Gate) Collector() prometheus.Collector { return (*collector)(g) }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDecisions, descLatency, descFlush, descFlushErrors, descDropped, descIndexKeys, descIndexAge, descWatching,
		descRevision, descStaleness, descMaxStaleness, descReloads, descStaleRefusals} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	g := (*Gate)(c)
	m := &g.met
	for o, name := range outcomeNames {
		for r := range numReasons {
			if n := m.decisions[o][r].n.Load(); n != 0 {
				ch <- prometheus.MustNewConstMetric(descDecisions, prometheus.CounterValue, float64(n), name, model.Reason(r).String())
			}
		}
	}
	ch <- m.latency.metric(descLatency)
	ch <- m.flush.metric(descFlush)
	ch <- prometheus.MustNewConstMetric(descFlushErrors, prometheus.CounterValue, float64(m.flushErrors.Load()))
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(m.droppedHosts.Load()))
	st := g.Status()
	ch <- prometheus.MustNewConstMetric(descIndexKeys, prometheus.GaugeValue, float64(st.Keys))
	ch <- prometheus.MustNewConstMetric(descIndexAge, prometheus.GaugeValue, st.AgeSeconds)
	watching := 0.0
	if st.Watching {
		watching = 1
	}
	ch <- prometheus.MustNewConstMetric(descWatching, prometheus.GaugeValue, watching)
	g.collectFollow(ch)
}

// metric is the histogram's state as a constant Prometheus histogram.
func (h *histogram) metric(d *prometheus.Desc) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.bounds))
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i].n.Load()
		buckets[b.Seconds()] = cum
	}
	cum += h.counts[len(h.bounds)].n.Load()
	return prometheus.MustNewConstHistogram(d, cum, time.Duration(h.sum.Load()).Seconds(), buckets)
}

// WriteMetrics writes the gate's metrics (see Collector) in the Prometheus
// text exposition format.
func (g *Gate) WriteMetrics(w io.Writer) error {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(g.Collector()); err != nil {
		return err
	}
	mfs, err := reg.Gather()
	if err != nil {
		return err
	}
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
			return err
		}
	}
	return nil
}
