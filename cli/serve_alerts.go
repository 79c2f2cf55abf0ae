package cli

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/tmaps/console/alert"
	"github.com/tmaps/console/server"
)

// alertFlags are the alert options of `tmaps serve`.
type alertFlags struct {
	webhooks   []string
	secretFile string
	checkEvery time.Duration
	retry      time.Duration
	refusedMin uint64
}

// addAlertFlags declares the alert flags of serve on f.
func addAlertFlags(f *pflag.FlagSet, c *alertFlags) {
	f.StringArrayVar(&c.webhooks, "alert-webhook", nil, "POST signed alerts to this https URL (repeatable; see docs/alerts.md)")
	f.StringVar(&c.secretFile, "alert-secret-file", "", "file holding the secret that signs alerts (HMAC-SHA256; required with --alert-webhook)")
	f.DurationVar(&c.checkEvery, "alert-check-every", alert.DefaultCheckEvery, "how often keys are checked for alert conditions")
	f.DurationVar(&c.retry, "alert-retry", alert.DefaultRetryMin, "pause before the first retry of a failed webhook, doubled each time up to 30m; retries stop 24h after the alert")
	f.Uint64Var(&c.refusedMin, "alert-refused-min", alert.DefaultRefusedMin, "403s for one key in one hour that make a burst alert")
}

// alertComponent checks the alert flags and returns the daemon component
// that finds alert conditions and sends the webhooks. It always runs, so
// that the alert history is kept even without a webhook.
func (a *app) alertComponent(c alertFlags) (server.ComponentFunc, error) {
	var webhooks []string
	for _, w := range c.webhooks {
		for _, part := range strings.Split(w, ",") {
			if part = strings.TrimSpace(part); part != "" {
				webhooks = append(webhooks, part)
			}
		}
	}
	for _, w := range webhooks {
		if err := alert.CheckWebhook(w); err != nil {
			return nil, usagef("--alert-webhook: %v", err)
		}
	}
	switch {
	case len(webhooks) > 0 && c.secretFile == "":
		return nil, usagef("--alert-webhook needs --alert-secret-file FILE: the secret the receiver checks signatures with (e.g. `openssl rand -hex 32 > FILE`)")
	case len(webhooks) == 0 && c.secretFile != "":
		return nil, usagef("--alert-secret-file signs webhooks: add --alert-webhook URL")
	case c.checkEvery <= 0:
		return nil, usagef("--alert-check-every %s: use a positive duration such as 1m", c.checkEvery)
	case c.retry <= 0:
		return nil, usagef("--alert-retry %s: use a positive duration such as 10s", c.retry)
	case c.refusedMin == 0:
		return nil, usagef("--alert-refused-min: use 1 or more")
	}
	var secret []byte
	if c.secretFile != "" {
		b, err := os.ReadFile(c.secretFile)
		if err != nil {
			return nil, fmt.Errorf("--alert-secret-file: %w", err)
		}
		fi, err := os.Stat(c.secretFile)
		if err == nil && fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("--alert-secret-file %s is readable by others (mode %04o): run `chmod 600 %s`", c.secretFile, fi.Mode().Perm(), c.secretFile)
		}
		secret = bytes.TrimSpace(b)
		if len(secret) < 16 {
			return nil, fmt.Errorf("--alert-secret-file %s: the secret must be at least 16 characters (e.g. `openssl rand -hex 32`)", c.secretFile)
		}
	}
	return func(env server.Env) (server.Component, error) {
		src, ok := env.Store.(alert.Source)
		if !ok {
			return nil, fmt.Errorf("alerts: this store keeps no alerts")
		}
		svc, err := alert.New(src, alert.Config{
			Webhooks:   webhooks,
			Secret:     secret,
			CheckEvery: c.checkEvery,
			RetryMin:   c.retry,
			RefusedMin: c.refusedMin,
			Leader:     env.Leader,
			Now:        a.now,
			Logger:     env.Logger.With("component", "alerts"),
		})
		if err != nil {
			return nil, err
		}
		return svc, nil
	}, nil
}
