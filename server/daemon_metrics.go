package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tmaps/console/internal/buildinfo"
	"github.com/tmaps/console/store"
)

// registerMetrics builds the daemon's registry: Go runtime and process
// metrics, the build, the gate's collector, the store's size, the TLS
// certificate's expiry and the reloads. The API and the components add
// their own.
func (d *Daemon) registerMetrics() error {
	d.reg = prometheus.NewRegistry()
	bi := buildinfo.Get()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "tmaps_build_info",
		Help:        "The running build of tmaps (always 1).",
		ConstLabels: prometheus.Labels{"version": bi.Version, "commit": bi.Commit, "goversion": bi.GoVersion},
	})
	build.Set(1)
	d.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tmaps_reloads_total",
		Help: "Reloads (SIGHUP) by result: ok, or error when a file failed to load and the previous one stayed in use.",
	}, []string{"result"})
	cs := []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		build, d.reloads, d.gate.Collector(),
	}
	if sz, ok := d.st.(store.Sizer); ok {
		cs = append(cs, &sizeCollector{sz: sz, log: d.log})
	}
	if d.certs != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tmaps_tls_certificate_expiry_timestamp_seconds",
			Help: "When the TLS certificate in use expires (Unix time); alert well before it.",
		}, func() float64 {
			if c := d.certs.cur.Load(); c != nil && c.Leaf != nil {
				return float64(c.Leaf.NotAfter.Unix())
			}
			return 0
		}))
	}
	for _, c := range cs {
		if err := d.reg.Register(c); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	return nil
}

// serveMetrics serves GET /metrics without a token on MetricsListen.
func (d *Daemon) serveMetrics(h http.Handler) error {
	ln, err := net.Listen("tcp", d.cfg.MetricsListen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (pick another address with --metrics-listen)", d.cfg.MetricsListen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	d.metricsSrv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	d.metricsURL = "http://" + ln.Addr().String() + "/metrics"
	go func() {
		if err := d.metricsSrv.Serve(ln); err != nil && err != http.ErrServerClosed {
			d.log.Error("metrics listener stopped", "err", err)
		}
	}()
	return nil
}

var descStoreSize = prometheus.NewDesc("tmaps_store_size_bytes",
	"Size of the store (the bbolt file, free pages included).", nil, nil)

// sizeCollector reads the store's size at each scrape.
type sizeCollector struct {
	sz  store.Sizer
	log *slog.Logger
}

func (c *sizeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descStoreSize }

func (c *sizeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := c.sz.Size(ctx)
	if err != nil {
		c.log.Warn("metrics: the store's size cannot be read", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(descStoreSize, prometheus.GaugeValue, float64(n))
}
