package server

import (
	"context"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
)

// Redacted replaces every secret in logs.
const Redacted = "REDACTED"

var (
	// secretRE finds API key secrets and operator tokens, also when
	// truncated or upper-cased, anywhere in a string.
	secretRE = regexp.MustCompile(`(?i)(ak|tm)_[0-9a-f]{4,}`)
	// queryRE finds api_key=… (raw or URL-encoded forms) in a string.
	queryRE = regexp.MustCompile(`(?i)(api_key|api%5fkey|token)(=|%3d)[^&\s"#]*`)
	// bearerRE finds credentials after an auth scheme.
	bearerRE = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[^\s"]+`)
)

// sensitiveKeys are attribute keys whose values are always redacted.
var sensitiveKeys = map[string]bool{
	"api_key": true, "apikey": true, "key_secret": true, "secret": true,
	"token": true, "authorization": true, "password": true, "cookie": true,
}

// RedactString removes API key secrets, operator tokens, api_key and token
// query values and bearer credentials from s.
func RedactString(s string) string {
	if !strings.ContainsAny(s, "_=%") && !strings.Contains(strings.ToLower(s), "bearer") && !strings.Contains(strings.ToLower(s), "basic") {
		return s
	}
	s = queryRE.ReplaceAllString(s, "${1}${2}"+Redacted)
	s = bearerRE.ReplaceAllString(s, "${1} "+Redacted)
	s = secretRE.ReplaceAllString(s, "${1}_"+Redacted)
	return s
}

// RedactURL returns u as a string with the values of api_key and token query
// parameters replaced, and any secret elsewhere in it removed.
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	if c.RawQuery != "" {
		q := c.Query()
		for k := range q {
			if sensitiveKeys[strings.ToLower(k)] {
				for i := range q[k] {
					q[k][i] = Redacted
				}
			}
		}
		c.RawQuery = q.Encode()
	}
	return RedactString(c.String())
}

// RedactingHandler wraps a slog.Handler so that no secret reaches the log:
// attributes named like a secret (api_key, token, authorization, secret…)
// are replaced whole, and every other string value and the message are
// scrubbed of anything that looks like a key secret, a token, an api_key
// query value or a bearer credential.
type RedactingHandler struct {
	next slog.Handler
}

// NewRedactingHandler returns a RedactingHandler over next.
func NewRedactingHandler(next slog.Handler) *RedactingHandler {
	return &RedactingHandler{next: next}
}

// Enabled implements slog.Handler.
func (h *RedactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

// Handle implements slog.Handler.
func (h *RedactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, RedactString(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *RedactingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redactAttr(a)
	}
	return &RedactingHandler{next: h.next.WithAttrs(red)}
}

// WithGroup implements slog.Handler.
func (h *RedactingHandler) WithGroup(name string) slog.Handler {
	return &RedactingHandler{next: h.next.WithGroup(name)}
}

func redactAttr(a slog.Attr) slog.Attr {
	if sensitiveKeys[strings.ToLower(a.Key)] {
		return slog.String(a.Key, Redacted)
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, RedactString(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]any, len(g))
		for i, ga := range g {
			red[i] = redactAttr(ga)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case *url.URL:
			return slog.String(a.Key, RedactURL(x))
		case error:
			return slog.String(a.Key, RedactString(x.Error()))
		default:
			// Render other values and scrub the text: a struct could hold a
			// secret in a field.
			return slog.String(a.Key, RedactString(v.String()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
