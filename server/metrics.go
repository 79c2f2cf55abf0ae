package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// apiMetrics are the management API's metrics. Their names are stable:
// dashboards, alerts and docs/operations.md refer to them.
type apiMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	streams  prometheus.Gauge
}

func newAPIMetrics(reg prometheus.Registerer) (*apiMetrics, error) {
	m := &apiMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tmaps_api_requests_total",
			Help: "Management API requests by route (method and path pattern, \"unmatched\" for unknown routes) and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tmaps_api_request_duration_seconds",
			Help:    "Time the management API takes to answer, by route (event streams: until they end).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tmaps_api_event_streams",
			Help: "Open GET /v1/events streams (consoles over --api and other subscribers).",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.duration, m.streams} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// instrument counts and times the requests of one route.
func (m *apiMetrics) instrument(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw, ok := w.(*statusWriter)
		if !ok {
			sw = &statusWriter{ResponseWriter: w}
		}
		next.ServeHTTP(sw, r)
		m.observe(route, sw, start)
	})
}

// observe records one answered request; w is the request's statusWriter.
func (m *apiMetrics) observe(route string, w http.ResponseWriter, start time.Time) {
	status := http.StatusOK
	if sw, ok := w.(*statusWriter); ok && sw.status != 0 {
		status = sw.status
	}
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
}
