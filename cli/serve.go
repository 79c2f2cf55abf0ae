package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tmaps/console/gate"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/server"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
	"github.com/tmaps/console/store/etcd"
)

// nodeName names this process in the usage it writes to a cluster: the
// host name and a random suffix (each start is a new writer).
func nodeName() string {
	h, err := os.Hostname()
	if err != nil || h == "" || strings.ContainsAny(h, "/\x00") {
		h = "node"
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%x", h, b)
}

func init() { register((*app).serveCmd) }

// serveConfig is the parsed command line of `tmaps serve`.
type serveConfig struct {
	db, listen        string
	gateSocket        string
	certFile, keyFile string
	proxies           []string
	allowHTTP         bool
	logFormat         string
	logLevel          string
	shutdownTimeout   time.Duration
	flushEvery        time.Duration
	trustActor        bool
	metricsListen     string
	maxStaleness      time.Duration
	leaderTTL         time.Duration
	ssh               sshFlags
	alerts            alertFlags
	leakKeyFile       string
	onLeak            string
}

const serveLong = `Run the daemon that owns the store: the management API under /v1 (operator
tokens, see ` + "`tmaps tokens`" + `), the gate endpoint GET /v1/authorize for a reverse
proxy or services, usage counting, /healthz and /readyz (no token), and
/metrics (with a token; without one on --metrics-listen's own address).

TLS is required: give --tls-cert and --tls-key. Two exceptions:
  --allow-http        local development only: plain HTTP, and the gate treats
                      every request as HTTPS. Announced loudly at start.
  --trusted-proxy     with a loopback --listen address, plain HTTP behind a
                      TLS-terminating proxy (nginx) on this host: the gate
                      trusts the proxy's X-Forwarded-Proto.
  --gate-socket       with a loopback --listen address: nginx on this host
                      asks the gate over this unix socket (mode 0660, for
                      the daemon's user and group) and is trusted as the
                      proxy there; the TCP address keeps the management API.

It prints "ready URL" on stdout once it accepts connections, logs to stderr
(api_key values and tokens are always redacted) and stops gracefully on
SIGINT or SIGTERM: requests in flight finish and usage counts are flushed.
SIGHUP re-reads the TLS certificate and key and the SSH authorized_keys
without dropping connections.

Every flag can also come from the environment variable named beside it
(TMAPS_LISTEN, TMAPS_TLS_CERT, ...; TMAPS_DB for --db); a flag on the
command line wins. Booleans take true or false; --trusted-proxy takes a
comma-separated list, and so does --alert-webhook (TMAPS_ALERT_WEBHOOK).

Alerts (docs/alerts.md): spikes, bursts of refused hosts, keys expiring within
7 days, leak reports, revoked and disabled keys are recorded in the store
(tmaps alerts) and, with --alert-webhook and --alert-secret-file, POSTed as
JSON signed with HMAC-SHA256, retried with backoff for up to 24 hours.`

func (a *app) serveCmd() *cobra.Command {
	var cfg serveConfig
	c := &cobra.Command{
		Use:   "serve --listen ADDR [--tls-cert FILE --tls-key FILE | --allow-http]",
		Short: "Run the daemon: management API, gate endpoint, usage counting",
		Long:  serveLong,
		Args:  nargs(0, 0),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			flags := a.root.PersistentFlags()
			if a.demo || flags.Changed("api") {
				return usagef("serve owns a local store: drop --api and --demo (use --db PATH, or --etcd ENDPOINTS for a cluster)")
			}
			if a.readOnly {
				return usagef("--read-only is for the console and commands; serve's users get their roles from their tokens and SSH keys")
			}
			if err := applyEnv(cmd.Flags(), a.getenv); err != nil {
				return err
			}
			cfg.db = a.setting(flags.Changed("db"), a.db, "TMAPS_DB", a.defaultDB())
			return a.serve(cfg)
		}),
	}
	f := c.Flags()
	f.StringVar(&cfg.listen, "listen", "127.0.0.1:8443", "address to listen on (host:port; port 0 picks a free one)")
	f.StringVar(&cfg.certFile, "tls-cert", "", "TLS certificate file (PEM)")
	f.StringVar(&cfg.keyFile, "tls-key", "", "TLS private key file (PEM)")
	f.StringVar(&cfg.gateSocket, "gate-socket", "", "also serve the gate (/v1/authorize, /healthz) on this unix socket, mode 0660, its peers trusted as the proxy (e.g. /run/tmaps/gate.sock)")
	f.StringArrayVar(&cfg.proxies, "trusted-proxy", nil, "CIDR or IP of a proxy whose X-Forwarded-Proto is trusted (repeatable)")
	f.BoolVar(&cfg.allowHTTP, "allow-http", false, "LOCAL DEVELOPMENT ONLY: serve plain HTTP and let plain-HTTP requests through the gate")
	f.StringVar(&cfg.logFormat, "log-format", "text", "log format on stderr: text or json")
	f.StringVar(&cfg.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long requests in flight may take to finish at shutdown")
	f.DurationVar(&cfg.flushEvery, "flush-every", gate.DefaultFlushEvery, "period of the usage flushes to the store")
	f.StringVar(&cfg.metricsListen, "metrics-listen", "", "also serve GET /metrics WITHOUT a token on this address (plain HTTP, keep it private, e.g. 127.0.0.1:9464)")
	f.BoolVar(&cfg.trustActor, "trust-client-actor", false, "audit API changes under the actor a client declares (X-Tmaps-Actor) instead of the token's name")
	f.DurationVar(&cfg.maxStaleness, "max-staleness", gate.DefaultMaxStaleness, "with --etcd: how long the gate decides from its index without quorum before it answers 503 (fail closed)")
	f.DurationVar(&cfg.leaderTTL, "leader-ttl", etcd.DefaultLeaderTTL, "with --etcd: the lease of the elected node that maintains usage and sends alerts; another node takes over this long after the leader dies (at once when it stops)")
	addSSHFlags(f, &cfg.ssh)
	addAlertFlags(f, &cfg.alerts)
	f.StringVar(&cfg.leakKeyFile, "leak-report-key", "", "accept signed leak reports at POST /v1/leaks: the reporter's ECDSA public keys (PEM, or GitHub's public_keys JSON; see docs/leaks.md)")
	f.StringVar(&cfg.onLeak, "on-leak", "record", "what a leak report does to an active key: record (mark it leaked and alert) or disable (also disable it at once)")
	f.VisitAll(func(fl *pflag.Flag) { fl.Usage += " (env " + envName(fl.Name) + ")" })
	return c
}

// envName is the environment variable of a serve flag: --ssh-listen is
// TMAPS_SSH_LISTEN.
func envName(flag string) string {
	return "TMAPS_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyEnv sets each flag of fs not given on the command line from its
// environment variable, when that is set: flags win over the environment.
// A repeatable flag takes a comma-separated list.
func applyEnv(fs *pflag.FlagSet, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(fl *pflag.Flag) {
		name := envName(fl.Name)
		v := getenv(name)
		if err != nil || fl.Changed || v == "" || fl.Name == "help" {
			return
		}
		if e := fl.Value.Set(v); e != nil {
			err = usagef("%s=%q: %v (it sets --%s; see tmaps serve --help)", name, v, e, fl.Name)
		}
	})
	return err
}

// parseProxies reads CIDRs or single addresses.
func parseProxies(in []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range in {
		for _, part := range strings.Split(s, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if p, err := netip.ParsePrefix(part); err == nil {
				out = append(out, p.Masked())
				continue
			}
			ip, err := netip.ParseAddr(part)
			if err != nil {
				return nil, usagef("--trusted-proxy %q: want a CIDR such as 127.0.0.1/32 or an IP address", part)
			}
			out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
		}
	}
	return out, nil
}

// loopbackListen reports whether addr only listens on a loopback interface.
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func (a *app) newServeLogger(cfg serveConfig) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return nil, usagef("--log-level %q: use debug, info, warn or error", cfg.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch cfg.logFormat {
	case "text":
		h = slog.NewTextHandler(a.stderr, opts)
	case "json":
		h = slog.NewJSONHandler(a.stderr, opts)
	default:
		return nil, usagef("--log-format %q: use text or json", cfg.logFormat)
	}
	return slog.New(server.NewRedactingHandler(h)), nil
}

// serve turns the parsed flags into a server.Daemon and runs it until
// SIGINT or SIGTERM; SIGHUP reloads its files.
func (a *app) serve(cfg serveConfig) error {
	log, err := a.newServeLogger(cfg)
	if err != nil {
		return err
	}
	proxies, err := parseProxies(cfg.proxies)
	if err != nil {
		return err
	}
	useTLS := cfg.certFile != "" || cfg.keyFile != ""
	switch {
	case (cfg.certFile == "") != (cfg.keyFile == ""):
		return usagef("--tls-cert and --tls-key go together: give both files")
	case useTLS && cfg.allowHTTP:
		return usagef("--allow-http is for serving without TLS: drop it, or drop --tls-cert and --tls-key")
	case !useTLS && !cfg.allowHTTP && !((len(proxies) > 0 || cfg.gateSocket != "") && loopbackListen(cfg.listen)):
		return usagef("refusing to serve without TLS: give --tls-cert FILE and --tls-key FILE; " +
			"behind a TLS-terminating proxy on this host, listen on loopback with --gate-socket PATH or --trusted-proxy CIDR; " +
			"for local development only, --allow-http")
	}
	if cfg.maxStaleness <= 0 {
		return usagef("--max-staleness %s: give a positive duration such as 5m", cfg.maxStaleness)
	}
	path := cfg.db
	if path == "" {
		return usagef("--db needs a file path")
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	eopt, useEtcd, err := a.etcdOptions()
	if err != nil {
		return err
	}
	if useEtcd && a.root.PersistentFlags().Changed("db") {
		return usagef("--etcd keeps the store in an etcd cluster: drop --db")
	}
	open := func(context.Context) (server.DaemonStore, error) {
		st, err := bolt.Open(path, bolt.Options{Timeout: a.lockTimeout, Now: a.now})
		if errors.Is(err, store.ErrInUse) {
			return nil, store.InUseError(fmt.Sprintf("the store at %s is in use by another process (another `tmaps serve`?): stop it, or serve another store with --db", model.Escape(path)))
		}
		return st, err
	}
	location := path
	var election atomic.Pointer[etcd.Election]
	if useEtcd {
		if cfg.leaderTTL < 2*time.Second {
			return usagef("--leader-ttl %s: give 2s or more (etcd's shortest lease)", cfg.leaderTTL)
		}
		// The node starts even while etcd cannot be reached: its gate
		// answers 503 until it has loaded the keys once.
		eopt.Lazy = true
		eopt.Node = nodeName()
		eopt.Logger = log.With("component", "etcd")
		location = etcdLocation(eopt)
		open = func(ctx context.Context) (server.DaemonStore, error) {
			st, err := etcd.Open(ctx, eopt)
			if err != nil {
				return nil, err
			}
			// One node at a time maintains usage and sends alerts.
			election.Store(st.Campaign("leader", cfg.leaderTTL, func(lead bool) {
				if lead {
					log.Info("this node is the elected leader: it maintains usage and sends alerts", "node", eopt.Node)
				} else {
					log.Info("this node no longer leads", "node", eopt.Node)
				}
			}))
			return st, nil
		}
	}
	// The SSH host key lives beside the local store file (with --etcd,
	// where it would be: each node keeps its own).
	ssh, err := a.sshComponent(cfg.ssh, path, location)
	if err != nil {
		return err
	}
	alerts, err := a.alertComponent(cfg.alerts)
	if err != nil {
		return err
	}
	leakKeys, onLeakDisable, err := leakConfig(cfg.leakKeyFile, cfg.onLeak)
	if err != nil {
		return err
	}

	// SIGHUP is caught from here on: before, it would end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	ctx, stop := signal.NotifyContext(a.ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	dc := server.DaemonConfig{
		OpenStore:        open,
		Location:         location,
		MaxStaleness:     cfg.maxStaleness,
		Listen:           cfg.listen,
		GateSocket:       cfg.gateSocket,
		AllowHTTP:        cfg.allowHTTP,
		TrustedProxies:   proxies,
		FlushEvery:       cfg.flushEvery,
		TrustActorHeader: cfg.trustActor,
		LeakKeys:         leakKeys,
		OnLeakDisable:    onLeakDisable,
		MetricsListen:    cfg.metricsListen,
		ShutdownTimeout:  cfg.shutdownTimeout,
		Logger:           log,
		Stdout:           a.stdout,
		Notify:           server.SystemdNotify,
		Watchdog:         server.SystemdWatchdog(),
	}
	if useEtcd {
		dc.Leader = func() bool {
			e := election.Load()
			return e != nil && e.Leader()
		}
	}
	if useTLS {
		dc.TLS = &server.TLSFiles{CertFile: cfg.certFile, KeyFile: cfg.keyFile}
	}
	if ssh != nil {
		dc.Components = append(dc.Components, ssh)
	}
	dc.Components = append(dc.Components, alerts)
	dc.Components = append(dc.Components, server.UsageMaintenance(0, a.now))
	d, err := server.NewDaemon(dc)
	if err != nil {
		return err
	}
	if cfg.allowHTTP {
		fmt.Fprintln(a.stderr, "WARNING: --allow-http: serving PLAIN HTTP and letting plain-HTTP requests through the gate.\n"+
			"WARNING: this is for local development only: API keys and operator tokens cross the network in clear.")
		log.Warn("--allow-http is set: plain HTTP is served and accepted by the gate; local development only")
	}
	if cfg.trustActor {
		log.Warn("--trust-client-actor is set: API changes are audited under the actor each client declares, not the token's name")
	}
	return d.Run(ctx, hup)
}
