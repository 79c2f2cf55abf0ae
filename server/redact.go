package server

import (
	"context"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Redacted replaces every secret in logs.
const Redacted = "REDACTED"

var (
	// secretRE finds API key secrets and operator tokens, also when
	// truncated, upper-cased or with a doubled underscore, anywhere in a
	// string.
	secretRE = regexp.MustCompile(`(?i)(ak|tm)_+[0-9a-f]{4,}`)
	// hexTailRE finds what remains of a secret whose first letter a
	// decoding took into an escape before it ("%0" then "ak_…" decodes to
	// a line feed, "k_…"): k_ or m_ then 16 hex digits or more.
	hexTailRE = regexp.MustCompile(`(?i)([km])_+[0-9a-f]{16,}`)
	// queryRE finds api_key=… (raw or URL-encoded forms) in a string.
	queryRE = regexp.MustCompile(`(?i)(api_key|api%5fkey|token)(=|%3d)[^&\s"#]*`)
	// bearerRE finds credentials after an auth scheme.
	bearerRE = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[^\s"]+`)
)

// maxDecodes is how many times RedactString percent-decodes a string to
// look for secrets hidden by encoding (%5F for _, %61 for a, %255F for an
// encoded %5F).
const maxDecodes = 4

// sensitiveKeys are attribute keys whose values are always redacted.
var sensitiveKeys = map[string]bool{
	"api_key": true, "apikey": true, "key_secret": true, "secret": true,
	"token": true, "authorization": true, "password": true, "cookie": true,
}

// RedactString removes API key secrets, operator tokens, api_key and token
// query values and bearer credentials from s, also when they are
// percent-encoded (in any case, once or several times): s is searched as
// it is and as each of its decoded forms, and what is found is replaced in
// s itself, whose other text is kept as it was.
func RedactString(s string) string {
	if !strings.ContainsAny(s, "_=%") && !strings.Contains(strings.ToLower(s), "bearer") && !strings.Contains(strings.ToLower(s), "basic") {
		return s
	}
	var edits []edit
	v := identityView(s)
	for level := 0; ; level++ {
		edits = v.find(edits)
		if level == maxDecodes || !strings.Contains(v.text, "%") {
			break
		}
		next, changed := v.decode()
		if !changed {
			break
		}
		v = next
	}
	return apply(s, edits)
}

// view is s or a decoded form of it; start[i] and end[i] are the bytes of
// s that byte i of text came from.
type view struct {
	text       string
	start, end []int
}

func identityView(s string) view {
	v := view{text: s, start: make([]int, len(s)), end: make([]int, len(s))}
	for i := range s {
		v.start[i], v.end[i] = i, i+1
	}
	return v
}

// decode percent-decodes v once, leniently: an invalid escape stays as it is.
func (v view) decode() (view, bool) {
	t := v.text
	out := view{start: make([]int, 0, len(t)), end: make([]int, 0, len(t))}
	var b strings.Builder
	changed := false
	for i := 0; i < len(t); i++ {
		if t[i] == '%' && i+2 < len(t) && isHex(t[i+1]) && isHex(t[i+2]) {
			b.WriteByte(unhex(t[i+1])<<4 | unhex(t[i+2]))
			out.start, out.end = append(out.start, v.start[i]), append(out.end, v.end[i+2])
			i += 2
			changed = true
			continue
		}
		b.WriteByte(t[i])
		out.start, out.end = append(out.start, v.start[i]), append(out.end, v.end[i])
	}
	out.text = b.String()
	return out, changed
}

// lenientUnescape percent-decodes s once, leaving invalid escapes.
func lenientUnescape(s string) string {
	v, _ := identityView(s).decode()
	return v.text
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// edit replaces s[from:to] with repl.
type edit struct {
	from, to int
	repl     string
}

// find appends the edits that redact what v's text reveals, as spans of s.
func (v view) find(edits []edit) []edit {
	add := func(a, b int, repl string) {
		if a < b {
			edits = append(edits, edit{v.start[a], v.end[b-1], repl})
		}
	}
	t := v.text
	for _, m := range queryRE.FindAllStringSubmatchIndex(t, -1) {
		add(m[5], m[1], Redacted)
	}
	for _, m := range bearerRE.FindAllStringSubmatchIndex(t, -1) {
		add(m[3], m[1], " "+Redacted)
	}
	for _, m := range secretRE.FindAllStringSubmatchIndex(t, -1) {
		add(m[0], m[1], strings.ToLower(t[m[2]:m[3]])+"_"+Redacted)
	}
	for _, m := range hexTailRE.FindAllStringSubmatchIndex(t, -1) {
		add(m[0], m[1], strings.ToLower(t[m[2]:m[3]])+"_"+Redacted)
	}
	return edits
}

// apply makes the edits in s; overlapping edits become one, covering them
// all, with the replacement of the first (the longest when they start
// together).
func apply(s string, edits []edit) string {
	if len(edits) == 0 {
		return s
	}
	slices.SortStableFunc(edits, func(a, b edit) int {
		if a.from != b.from {
			return a.from - b.from
		}
		return b.to - a.to
	})
	var b strings.Builder
	pos := 0
	for i := 0; i < len(edits); {
		e := edits[i]
		for i++; i < len(edits) && edits[i].from < e.to; i++ {
			e.to = max(e.to, edits[i].to)
		}
		b.WriteString(s[pos:e.from])
		b.WriteString(e.repl)
		pos = e.to
	}
	b.WriteString(s[pos:])
	return b.String()
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
