package cli

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/tmaps/console/store/etcd"
)

// etcdFlags are the global flags that put the store in an etcd cluster.
type etcdFlags struct {
	endpoints, ca, cert, key, prefix string
}

func (a *app) addEtcdFlags(pf *pflag.FlagSet) {
	pf.StringVar(&a.etcd.endpoints, "etcd", "", "keep the store in the etcd cluster at these client URLs, comma-separated (env TMAPS_ETCD)")
	pf.StringVar(&a.etcd.ca, "etcd-ca", "", "CA certificate (PEM) that signed the etcd members' certificates (env TMAPS_ETCD_CA)")
	pf.StringVar(&a.etcd.cert, "etcd-cert", "", "client certificate (PEM) for etcd (env TMAPS_ETCD_CERT)")
	pf.StringVar(&a.etcd.key, "etcd-key", "", "client key (PEM) for etcd (env TMAPS_ETCD_KEY)")
	pf.StringVar(&a.etcd.prefix, "etcd-prefix", etcd.DefaultPrefix, "key prefix of the store in etcd (env TMAPS_ETCD_PREFIX)")
}

// etcdOptions resolves the etcd settings (flags, then TMAPS_ETCD*); ok is
// false when no cluster is configured.
func (a *app) etcdOptions() (opt etcd.Options, ok bool, err error) {
	pf := a.root.PersistentFlags()
	return a.etcdOptionsFor(a.setting(pf.Changed("etcd"), a.etcd.endpoints, "TMAPS_ETCD", ""))
}

// etcdOptionsFor is etcdOptions for the given endpoints (comma-separated),
// with the other settings from the flags and the environment.
func (a *app) etcdOptionsFor(endpoints string) (opt etcd.Options, ok bool, err error) {
	pf := a.root.PersistentFlags()
	get := func(name, env, val, def string) string { return a.setting(pf.Changed(name), val, env, def) }
	ca := get("etcd-ca", "TMAPS_ETCD_CA", a.etcd.ca, "")
	cert := get("etcd-cert", "TMAPS_ETCD_CERT", a.etcd.cert, "")
	key := get("etcd-key", "TMAPS_ETCD_KEY", a.etcd.key, "")
	opt.Prefix = get("etcd-prefix", "TMAPS_ETCD_PREFIX", a.etcd.prefix, etcd.DefaultPrefix)
	if endpoints == "" {
		if ca != "" || cert != "" || key != "" {
			return opt, false, usagef("--etcd-ca, --etcd-cert and --etcd-key configure the connection to etcd: add --etcd ENDPOINTS")
		}
		return opt, false, nil
	}
	for _, e := range strings.Split(endpoints, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if !strings.HasPrefix(e, "http://") && !strings.HasPrefix(e, "https://") {
			return opt, false, usagef("--etcd %q: give client URLs such as https://10.0.0.1:2379 (comma-separated)", e)
		}
		opt.Endpoints = append(opt.Endpoints, e)
	}
	if len(opt.Endpoints) == 0 {
		return opt, false, usagef("--etcd: give at least one client URL, such as https://10.0.0.1:2379")
	}
	if !strings.HasPrefix(opt.Prefix, "/") || strings.ContainsRune(opt.Prefix, 0) {
		return opt, false, usagef("--etcd-prefix %q: give a key prefix starting with /, such as /tmaps/", opt.Prefix)
	}
	if opt.TLS, err = etcdTLS(ca, cert, key); err != nil {
		return opt, false, err
	}
	if opt.TLS == nil {
		for _, e := range opt.Endpoints {
			if strings.HasPrefix(e, "https://") {
				opt.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
			}
		}
	}
	opt.Now = a.now
	return opt, true, nil
}

// etcdTLS builds the client TLS configuration from PEM files; nil when none
// is given.
func etcdTLS(ca, cert, key string) (*tls.Config, error) {
	if ca == "" && cert == "" && key == "" {
		return nil, nil
	}
	if (cert == "") != (key == "") {
		return nil, usagef("--etcd-cert and --etcd-key go together: give both files")
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("read --etcd-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--etcd-ca %s holds no PEM certificate", ca)
		}
		conf.RootCAs = pool
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("load --etcd-cert %s and --etcd-key %s: %w", cert, key, err)
		}
		conf.Certificates = []tls.Certificate{pair}
	}
	return conf, nil
}

// etcdLocation names a cluster store for the console's header and logs.
func etcdLocation(opt etcd.Options) string {
	return "etcd " + strings.Join(opt.Endpoints, ",") + " " + opt.Prefix
}

// openEtcd opens the cluster store for the console and the CLI.
func (a *app) openEtcd(opt etcd.Options) (*etcd.Store, string, func(), error) {
	st, err := etcd.Open(a.ctx, opt)
	if err != nil {
		return nil, "", nil, fmt.Errorf("%w (check --etcd / TMAPS_ETCD, and --etcd-ca, --etcd-cert, --etcd-key for TLS)", err)
	}
	return st, etcdLocation(opt), func() { st.Close() }, nil
}
