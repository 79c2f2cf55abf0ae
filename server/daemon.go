package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tmaps/console/gate"
	"github.com/tmaps/console/store"
)

// DaemonStore is a store the daemon can serve: the data and the operator
// tokens of the management API.
type DaemonStore interface {
	store.Store
	store.TokenStore
}

// StoreOpener opens the store a daemon serves; the daemon closes it at
// the end of its shutdown. It is the backend's extension point: the bolt
// file today, another backend (an etcd cluster) by handing its own opener.
// A store may also implement store.HealthChecker (for /readyz),
// store.Backuper (GET /v1/backup) and store.Sizer (store size metric).
type StoreOpener func(ctx context.Context) (DaemonStore, error)

// Component is a part of the daemon that runs beside the API: the SSH
// server, a maintenance loop, an alert sender. Components are built once
// the store and the gate are up, start in the order given before the daemon
// is ready, and stop in reverse order before the store closes.
type Component interface {
	// Start begins the work and returns once it is under way (listening,
	// loop started). An error aborts the daemon's start before "ready".
	Start(ctx context.Context) error
	// Stop ends the work, waiting at most until ctx ends (the shutdown
	// timeout) for what is in flight.
	Stop(ctx context.Context) error
}

// Reloader is a Component with files to re-read on SIGHUP.
type Reloader interface {
	Reload(ctx context.Context) error
}

// Announcer is a Component with a line to print on the daemon's stdout
// once it is ready, e.g. "ssh 127.0.0.1:2222 host key SHA256:…" ("" prints
// nothing).
type Announcer interface {
	Announce() string
}

// Env is what a component is built from.
type Env struct {
	Store  DaemonStore
	Gate   *gate.Gate
	Logger *slog.Logger
	// Leader reports whether this node is the one of its cluster that runs
	// cluster-wide work (sending alerts); never nil.
	Leader func() bool
	// Metrics registers the component's metrics on the daemon's /metrics.
	Metrics prometheus.Registerer
}

// ComponentFunc builds a component from the running daemon's parts.
// A nil Component (with a nil error) means "nothing to run".
type ComponentFunc func(Env) (Component, error)

// TLSFiles are the certificate and key files of the listener, re-read on
// Reload.
type TLSFiles struct {
	CertFile, KeyFile string
}

// DaemonConfig configures a Daemon. OpenStore is required; zero values
// elsewhere take the defaults of `tmaps serve`.
type DaemonConfig struct {
	// OpenStore opens the store; Location names it in logs (a path, URLs).
	OpenStore StoreOpener
	Location  string
	// Listen is the API's TCP address (host:port; port 0 picks one).
	Listen string
	// GateSocket also serves the gate (GET /v1/authorize) and GET /healthz,
	// nothing else, on a unix socket at this path, made with mode 0660:
	// its peers are the local processes the file's owner and group admit
	// (nginx), and the gate trusts them as a proxy (X-Forwarded-Proto,
	// X-Real-IP). A stale socket file is replaced at Start. At shutdown
	// the listener closes but the file stays, so that nginx gets
	// "connection refused", which it logs below crit; a missing file
	// ("no such file") it logs at crit with the request line, api_key
	// included. "" serves no socket.
	GateSocket string
	// TLS serves HTTPS with these files; nil serves plain HTTP (the caller
	// checked that this is allowed: --allow-http or a trusted proxy).
	TLS *TLSFiles
	// AllowHTTP, TrustedProxies and FlushEvery configure the gate.
	AllowHTTP      bool
	TrustedProxies []netip.Prefix
	FlushEvery     time.Duration
	// MaxStaleness: see gate.Options.MaxStaleness (a store shared by
	// several nodes).
	MaxStaleness time.Duration
	// TrustActorHeader: see Options.TrustActorHeader.
	TrustActorHeader bool
	// LeakKeys and OnLeakDisable: see Options.
	LeakKeys      *LeakKeys
	OnLeakDisable bool
	// MetricsListen also serves GET /metrics, without a token, on this
	// address (plain HTTP: keep it private); "" serves it only on the
	// API's address, behind an operator token.
	MetricsListen string
	// ShutdownTimeout bounds how long requests and sessions in flight may
	// take to finish at shutdown; 0 means 10 s.
	ShutdownTimeout time.Duration
	// Components run beside the API, in this order (see Component).
	Components []ComponentFunc
	// Leader reports whether this node leads its cluster, for components
	// whose work one node must do (the alert sender); nil means always
	// (one node). A clustered backend hands its election's answer here.
	Leader func() bool
	// Logger receives the daemon's logs; nil discards them. Wrap its
	// handler with NewRedactingHandler.
	Logger *slog.Logger
	// Stdout receives "ready URL" and the components' announcements once
	// the daemon accepts connections; nil discards them.
	Stdout io.Writer
	// Notify tells a service manager the daemon's state ("READY=1",
	// "RELOADING=1…", "STOPPING=1", "WATCHDOG=1"); nil sends nothing.
	// SystemdNotify is systemd's.
	Notify func(state string)
	// Watchdog is the period within which the service manager wants a
	// "WATCHDOG=1" (systemd's WatchdogSec); Run sends one every half
	// period while the daemon is ready. 0 sends none.
	Watchdog time.Duration
}

// SystemdNotify sends state to systemd's notify socket ($NOTIFY_SOCKET);
// without one it does nothing.
func SystemdNotify(state string) {
	_, _ = sddaemon.SdNotify(false, state)
}

// SystemdWatchdog is the watchdog period systemd asks for this process
// ($WATCHDOG_USEC), 0 for none.
func SystemdWatchdog() time.Duration {
	d, err := sddaemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0
	}
	return d
}

// DefaultShutdownTimeout is DaemonConfig.ShutdownTimeout's default.
const DefaultShutdownTimeout = 10 * time.Second

// Daemon is `tmaps serve` without its command line: it opens the store,
// loads the gate, serves the management API and its components, reloads
// its files on Reload, and shuts down in order (requests and sessions in
// flight finish, the last usage counts are flushed, then the store closes).
type Daemon struct {
	cfg DaemonConfig
	log *slog.Logger

	st         DaemonStore
	gate       *gate.Gate
	api        *Server
	http       *http.Server
	ln         net.Listener
	url        string
	sock       *gateSocket  // GateSocket's listener
	sockSrv    *http.Server // serves the gate on sock
	certs      *certReloader
	comps      []Component
	reg        *prometheus.Registry
	reloads    *prometheus.CounterVec
	metricsSrv *http.Server
	metricsURL string

	gateCancel context.CancelFunc // ends the gate's index watch
	runCancel  context.CancelFunc // ends the gate's flush loop (final flush)
	runDone    chan error
	serveErr   chan error

	started  time.Time
	running  bool        // Start succeeded
	ready    atomic.Bool // Start succeeded, for Readiness
	stopping atomic.Bool
	stopOnce sync.Once
	stopErr  error
}

// NewDaemon checks cfg; it does no I/O (Start does).
func NewDaemon(cfg DaemonConfig) (*Daemon, error) {
	if cfg.OpenStore == nil {
		return nil, errors.New("daemon: no store opener")
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.TLS != nil && (cfg.TLS.CertFile == "" || cfg.TLS.KeyFile == "") {
		return nil, errors.New("daemon: TLS needs both a certificate and a key file")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	return &Daemon{cfg: cfg, log: log}, nil
}

// Start opens the store, loads the gate's index, builds the API and the
// components, listens, and announces "ready URL" on Stdout. When it fails,
// what it had started is stopped again and the store is closed.
func (d *Daemon) Start(ctx context.Context) (err error) {
	d.started = time.Now()
	if d.cfg.TLS != nil {
		d.certs = &certReloader{files: *d.cfg.TLS, log: d.log}
		if err := d.certs.load(); err != nil {
			return err
		}
	}
	st, err := d.cfg.OpenStore(ctx)
	if err != nil {
		return err
	}
	d.st = st
	defer func() {
		if err != nil {
			d.abort()
		}
	}()

	// The gate's index lives until the store closes; its flush loop stops
	// at shutdown with a final flush.
	gateCtx, gateCancel := context.WithCancel(context.WithoutCancel(ctx))
	d.gateCancel = gateCancel
	d.gate, err = gate.New(gateCtx, st, gate.Options{
		AllowHTTP: d.cfg.AllowHTTP, TrustedProxies: d.cfg.TrustedProxies, FlushEvery: d.cfg.FlushEvery,
		MaxStaleness: d.cfg.MaxStaleness, Logger: d.log.With("component", "gate"),
	})
	if err != nil {
		return err
	}
	runCtx, runCancel := context.WithCancel(context.WithoutCancel(ctx))
	d.runCancel = runCancel
	d.runDone = make(chan error, 1)
	go func() { d.runDone <- d.gate.Run(runCtx) }()

	if err := d.registerMetrics(); err != nil {
		return err
	}
	metrics := promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(d.log.Handler(), slog.LevelWarn), Registry: d.reg,
	})
	d.api, err = New(st, Options{
		Tokens: st, Authorize: d.gate.AuthorizeHandler(), Metrics: metrics, Registerer: d.reg,
		Logger: d.log.With("component", "api"), TrustActorHeader: d.cfg.TrustActorHeader,
		Readiness: d.Readiness, Sync: d.gate.Sync,
		LeakKeys: d.cfg.LeakKeys, OnLeakDisable: d.cfg.OnLeakDisable,
	})
	if err != nil {
		return err
	}
	d.http = &http.Server{
		Handler:           d.api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second, // the event stream lifts it for itself
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	d.http.RegisterOnShutdown(d.api.Close)

	leader := d.cfg.Leader
	if leader == nil {
		leader = func() bool { return true }
	}
	env := Env{Store: st, Gate: d.gate, Logger: d.log, Leader: leader, Metrics: d.reg}
	for _, mk := range d.cfg.Components {
		c, err := mk(env)
		if err != nil {
			return err
		}
		if c == nil {
			continue
		}
		if err := c.Start(ctx); err != nil {
			return err
		}
		d.comps = append(d.comps, c)
	}

	if d.cfg.MetricsListen != "" {
		if err := d.serveMetrics(metrics); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", d.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server using it? pick another with --listen)", d.cfg.Listen, err)
	}
	scheme := "http"
	if d.certs != nil {
		ln = tls.NewListener(ln, &tls.Config{GetCertificate: d.certs.get, MinVersion: tls.VersionTLS12})
		scheme = "https"
	}
	if d.cfg.GateSocket != "" {
		if d.sock, err = listenGateSocket(d.cfg.GateSocket); err != nil {
			ln.Close()
			return err
		}
		d.sockSrv = &http.Server{
			Handler: d.api.GateHandler(),
			// Every peer of the socket is the trusted proxy.
			BaseContext:       func(net.Listener) context.Context { return gate.TrustedProxyContext(context.Background()) },
			ReadHeaderTimeout: d.http.ReadHeaderTimeout,
			ReadTimeout:       d.http.ReadTimeout,
			WriteTimeout:      d.http.WriteTimeout,
			IdleTimeout:       d.http.IdleTimeout,
			MaxHeaderBytes:    d.http.MaxHeaderBytes,
			ErrorLog:          d.http.ErrorLog,
		}
	}
	d.ln = ln
	d.url = scheme + "://" + ln.Addr().String()
	d.serveErr = make(chan error, 2)
	go func() { d.serveErr <- d.http.Serve(ln) }()
	if d.sockSrv != nil {
		go func() { d.serveErr <- d.sockSrv.Serve(d.sock.ln) }()
	}

	d.log.Info("ready", "url", d.url, "store", d.cfg.Location, "keys", d.gate.Size(), "startup", time.Since(d.started),
		"tls", d.certs != nil, "allow_http", d.cfg.AllowHTTP, "trusted_proxies", len(d.cfg.TrustedProxies),
		"gate_socket", d.cfg.GateSocket)
	fmt.Fprintf(d.cfg.Stdout, "ready %s\n", d.url)
	if d.sock != nil {
		fmt.Fprintf(d.cfg.Stdout, "gate unix:%s\n", d.sock.path)
	}
	if d.metricsURL != "" {
		fmt.Fprintf(d.cfg.Stdout, "metrics %s\n", d.metricsURL)
	}
	for _, c := range d.comps {
		if a, ok := c.(Announcer); ok {
			if line := a.Announce(); line != "" {
				fmt.Fprintln(d.cfg.Stdout, line)
			}
		}
	}
	d.running = true
	d.ready.Store(true)
	d.notify(sddaemon.SdNotifyReady)
	return nil
}

// abort undoes a failed Start.
func (d *Daemon) abort() {
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.ShutdownTimeout)
	defer cancel()
	for i := len(d.comps) - 1; i >= 0; i-- {
		_ = d.comps[i].Stop(ctx)
	}
	d.comps = nil
	if d.metricsSrv != nil {
		d.metricsSrv.Close()
	}
	if d.runCancel != nil {
		d.runCancel()
		<-d.runDone
	}
	if d.gateCancel != nil {
		d.gateCancel()
	}
	d.st.Close()
}

// URL is the API's base URL, e.g. https://127.0.0.1:8443, once started.
func (d *Daemon) URL() string { return d.url }

// GateSocket is the path of the gate's unix socket once started, "" without
// one.
func (d *Daemon) GateSocket() string {
	if d.sock == nil {
		return ""
	}
	return d.sock.path
}

// MetricsURL is the URL of /metrics on MetricsListen, "" without it.
func (d *Daemon) MetricsURL() string { return d.metricsURL }

// Gate is the daemon's gate, once started.
func (d *Daemon) Gate() *gate.Gate { return d.gate }

// Readiness checks the store and the gate for GET /readyz.
func (d *Daemon) Readiness(ctx context.Context) Readiness {
	rd := Readiness{Store: storeHealth(ctx, d.st), Gate: d.gate.Status()}
	if f, ok := d.gate.Following(); ok {
		rd.Follow = &f
	}
	if d.cfg.Leader != nil {
		l := d.cfg.Leader()
		rd.Leader = &l
	}
	switch {
	case d.stopping.Load():
		rd.Status = StatusStopping
	case !d.ready.Load():
		rd.Status = StatusStarting
	case rd.Follow != nil:
		// A node of a cluster: it decides from its index while it can
		// prove it current, fails static (stale, still 200: taking every
		// node out of a balancer would stop all traffic) and then closed.
		switch {
		case rd.Follow.State == gate.FollowNotLoaded:
			rd.Status = StatusNotReady
		case rd.Follow.State == gate.FollowClosed:
			rd.Status = StatusClosed
		case !rd.Store.OK || rd.Follow.State == gate.FollowStale || !rd.Gate.Watching:
			rd.Status = StatusStale
		default:
			rd.Status = StatusReady
		}
	case !rd.Store.OK || !rd.Gate.Loaded || !rd.Gate.Watching:
		rd.Status = StatusNotReady
	default:
		rd.Status = StatusReady
	}
	return rd
}

// storeHealth asks the store, or looks a key up when it cannot be asked.
func storeHealth(ctx context.Context, st store.Store) store.Health {
	if hc, ok := st.(store.HealthChecker); ok {
		return hc.Health(ctx)
	}
	h := store.Health{Backend: fmt.Sprintf("%T", st)}
	if _, err := st.Key(ctx, "k-readyz"); err == nil || errors.Is(err, store.ErrNotFound) {
		h.OK = true
	} else {
		h.Error = "the store cannot be read"
	}
	return h
}

// Run starts the daemon, reloads it on each value from reload (SIGHUP),
// and shuts it down when ctx ends (SIGINT, SIGTERM) or serving fails.
func (d *Daemon) Run(ctx context.Context, reload <-chan os.Signal) error {
	if err := d.Start(ctx); err != nil {
		return err
	}
	var watchdog <-chan time.Time
	if d.cfg.Watchdog > 0 {
		t := time.NewTicker(d.cfg.Watchdog / 2)
		defer t.Stop()
		watchdog = t.C
	}
	var result error
loop:
	for {
		select {
		case <-watchdog:
			// A daemon that cannot read its store or follow it is not
			// kept alive: systemd restarts it.
			if d.Readiness(ctx).Status == StatusReady {
				d.notify(sddaemon.SdNotifyWatchdog)
			} else {
				d.log.Warn("not ready: no watchdog ping sent")
			}
		case <-ctx.Done():
			d.log.Info("shutting down: finishing requests in flight", "timeout", d.cfg.ShutdownTimeout)
			break loop
		case err := <-d.serveErr:
			result = fmt.Errorf("serve: %w", err)
			break loop
		case <-reload:
			// Reload logs its own failures; the daemon serves on with
			// what it had.
			_ = d.Reload(ctx)
		}
	}
	if err := d.Shutdown(); result == nil {
		result = err
	}
	return result
}

// Reload re-reads the daemon's files: the TLS certificate and key, and
// those of components that are Reloaders (the SSH authorized keys).
// Connections, requests and sessions in flight are untouched; a file that
// fails to load keeps its previous version in use, and the error says so.
func (d *Daemon) Reload(ctx context.Context) error {
	d.notify(reloadingState())
	defer d.notify(sddaemon.SdNotifyReady)
	var errs []error
	if d.certs != nil {
		if err := d.certs.load(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, c := range d.comps {
		if r, ok := c.(Reloader); ok {
			if err := r.Reload(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	err := errors.Join(errs...)
	result := "ok"
	if err != nil {
		result = "error"
	}
	if d.reloads != nil {
		d.reloads.WithLabelValues(result).Inc()
	}
	if err != nil {
		d.log.Error("reload failed: serving on with the previous files", "err", err)
	} else {
		d.log.Info("reloaded")
	}
	return err
}

// Shutdown stops the daemon in order: no new connections; requests,
// event streams and component work in flight end within ShutdownTimeout;
// the gate flushes its last usage counts; the store closes. Later calls
// return the first call's result.
func (d *Daemon) Shutdown() error {
	d.stopOnce.Do(func() { d.stopErr = d.shutdown() })
	return d.stopErr
}

func (d *Daemon) shutdown() error {
	if !d.running {
		return nil
	}
	d.stopping.Store(true)
	d.notify(sddaemon.SdNotifyStopping)
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := d.http.Shutdown(ctx); err != nil {
			d.log.Warn("requests still in flight at the end of the shutdown timeout were cut", "err", err)
			d.http.Close()
		}
	})
	if d.metricsSrv != nil {
		wg.Go(func() {
			if err := d.metricsSrv.Shutdown(ctx); err != nil {
				d.metricsSrv.Close()
			}
		})
	}
	if d.sockSrv != nil {
		wg.Go(func() {
			// The file stays: see DaemonConfig.GateSocket.
			if err := d.sockSrv.Shutdown(ctx); err != nil {
				d.sockSrv.Close()
			}
		})
	}
	for i := len(d.comps) - 1; i >= 0; i-- {
		if err := d.comps[i].Stop(ctx); err != nil {
			d.log.Warn("a component did not stop cleanly", "err", err)
		}
	}
	wg.Wait()
	var result error
	d.runCancel()
	if err := <-d.runDone; err != nil {
		d.log.Error("the final usage flush failed", "err", err)
		result = fmt.Errorf("final usage flush: %w", err)
	}
	d.gateCancel()
	if err := d.st.Close(); err != nil && result == nil {
		result = err
	}
	if result == nil {
		d.log.Info("stopped")
	}
	return result
}

func (d *Daemon) notify(state string) {
	if d.cfg.Notify != nil {
		d.cfg.Notify(state)
	}
}

// reloadingState is the sd_notify message that starts a reload; systemd's
// Type=notify-reload wants the monotonic time with it.
func reloadingState() string {
	return sddaemon.SdNotifyReloading + "\n" + sddaemon.SdNotifyMonotonicUsec()
}

// certReloader serves the certificate of its files as last loaded.
type certReloader struct {
	files TLSFiles
	log   *slog.Logger
	cur   atomic.Pointer[tls.Certificate]
}

// load reads the files; on failure the previous certificate stays.
func (c *certReloader) load() error {
	cert, err := tls.LoadX509KeyPair(c.files.CertFile, c.files.KeyFile)
	if err != nil {
		return fmt.Errorf("load the TLS certificate %s and key %s: %w", c.files.CertFile, c.files.KeyFile, err)
	}
	c.cur.Store(&cert)
	if leaf := cert.Leaf; leaf != nil {
		c.log.Info("TLS certificate loaded", "file", c.files.CertFile, "subject", leaf.Subject.String(),
			"not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

func (c *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.cur.Load(), nil }
