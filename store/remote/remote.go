// Package remote is a store.Store over the management API of `tmaps serve`
// (package server). Errors answered by the API come back as the same store
// and model sentinels; a server that cannot be reached is store.ErrUnavailable
// with a message that says so. Reads are retried briefly on network errors;
// Watch follows the server's event stream; when it breaks Watch says
// store.EventOffline (unless it reconnects at once), reconnects forever and
// then delivers store.EventResync.
package remote

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/wire"
)

// ActorHeader carries the caller's audit actor (URL-query-escaped). The
// server records it only when started to trust it; otherwise the audit
// actor is the token's name.
const ActorHeader = "X-Tmaps-Actor"

// ErrUnauthorized is returned when the API refuses the operator token.
var ErrUnauthorized = errors.New("the tmaps API refused the operator token")

// Options tune a remote store. The zero value is ready.
type Options struct {
	// HTTPClient sends the requests; nil means a client made for the API.
	// Its Timeout must be zero (the event stream is endless): per-request
	// time limits come from Timeout.
	HTTPClient *http.Client
	// Timeout bounds one request (not the event stream); 0 means 15 seconds.
	Timeout time.Duration
	// Retries is how many times a read is retried after a network error;
	// 0 means 2, negative means none.
	Retries int
	// RetryDelay is the first pause between retries, doubled each time;
	// 0 means 150 ms.
	RetryDelay time.Duration
	// ReconnectDelay is the first pause before Watch reconnects, doubled up
	// to 5 s; 0 means 500 ms.
	ReconnectDelay time.Duration
	// IdleTimeout ends an event stream that sent nothing (not even the
	// server's keep-alive) for this long, and reconnects; 0 means 45 s.
	IdleTimeout time.Duration
	// RootCAs are the certificate authorities trusted for an https API
	// (a private CA, --ca-cert); nil means the system's. Ignored with
	// HTTPClient.
	RootCAs *x509.CertPool
}

// Store is the remote store. It is safe for concurrent use.
type Store struct {
	base    *url.URL
	display string // the base URL as shown in messages
	token   string
	hc      *http.Client
	opt     Options

	closed  atomic.Bool
	closeCh chan struct{}
	once    sync.Once
	mu      sync.Mutex // orders wg.Add in Watch before wg.Wait in Close
	wg      sync.WaitGroup
}

var _ store.Store = (*Store)(nil)

// New returns a store over the API at baseURL (e.g. https://tmaps.example:8443)
// that authenticates with the operator token. It does not contact the server.
func New(baseURL, token string, opt Options) (*Store, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--api %q: want the URL of `tmaps serve`, such as https://tmaps.example:8443", baseURL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("--api %q: give only scheme, host, port and path (the token goes in TMAPS_TOKEN or --token)", u.Redacted())
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, errors.New("no operator token for --api: set TMAPS_TOKEN (or pass --token); create one on the server with `tmaps tokens create NAME`")
	}
	for _, r := range token {
		if r <= ' ' || r >= 0x7f {
			return nil, errors.New("the operator token contains spaces or control characters: copy it again from `tmaps tokens create`")
		}
	}
	u.Path = strings.TrimRight(u.Path, "/")
	if opt.Timeout <= 0 {
		opt.Timeout = 15 * time.Second
	}
	if opt.Retries == 0 {
		opt.Retries = 2
	} else if opt.Retries < 0 {
		opt.Retries = 0
	}
	if opt.RetryDelay <= 0 {
		opt.RetryDelay = 150 * time.Millisecond
	}
	if opt.ReconnectDelay <= 0 {
		opt.ReconnectDelay = 500 * time.Millisecond
	}
	if opt.IdleTimeout <= 0 {
		opt.IdleTimeout = 45 * time.Second
	}
	hc := opt.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 32
		tr.ResponseHeaderTimeout = opt.Timeout
		if opt.RootCAs != nil {
			tr.TLSClientConfig = &tls.Config{RootCAs: opt.RootCAs, MinVersion: tls.VersionTLS12}
		}
		hc = &http.Client{Transport: tr}
	}
	return &Store{base: u, display: u.String(), token: token, hc: hc, opt: opt, closeCh: make(chan struct{})}, nil
}

// URL returns the API's base URL.
func (s *Store) URL() string { return s.display }

// Close ends every Watch and makes later calls return store.ErrClosed.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed.Store(true)
		close(s.closeCh)
		s.mu.Unlock()
		s.wg.Wait()
		s.hc.CloseIdleConnections()
	})
	return nil
}

// ---- transport ----

// call is one API request.
type call struct {
	method string
	path   string // escaped path under the base URL
	query  url.Values
	body   any
	out    any  // decoded on success when non-nil
	read   bool // safe to retry after any network error
	// header receives the answer's headers on success when non-nil.
	header *http.Header
}

func (s *Store) endpoint(path string, q url.Values) string {
	u := *s.base
	u.RawPath = ""
	u.Path = ""
	raw := s.base.EscapedPath() + path
	if q != nil {
		raw += "?" + q.Encode()
	}
	return u.Scheme + "://" + u.Host + raw
}

// unavailable explains a network failure.
func (s *Store) unavailable(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if hint := tlsProblem(err, s.base.Hostname()); hint != "" {
		return fmt.Errorf("%w: the TLS connection to the tmaps API at %s failed: %s", store.ErrUnavailable, s.display, hint)
	}
	return fmt.Errorf("%w: cannot reach the tmaps API at %s: %v; is `tmaps serve` running?", store.ErrUnavailable, s.display, err)
}

// tlsProblem names what is wrong with the server's certificate, and what
// to do, or returns "" when err is not about the certificate.
func tlsProblem(err error, host string) string {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var hostErr x509.HostnameError
	var record tls.RecordHeaderError
	switch {
	case errors.As(err, &unknown):
		return "its certificate is signed by an unknown authority (a private CA, or self-signed): " +
			"pass that CA's certificate with --ca-cert FILE (or TMAPS_CA_CERT)"
	case errors.As(err, &hostErr):
		names := hostErr.Certificate.DNSNames
		for _, ip := range hostErr.Certificate.IPAddresses {
			names = append(names, ip.String())
		}
		return fmt.Sprintf("its certificate is for %s, not %s: use one of those names in --api, or a certificate for %s",
			strings.Join(names, ", "), host, host)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		c := invalid.Cert
		return fmt.Sprintf("its certificate is valid from %s to %s, not now (%s): renew it on the server, then reload the daemon (SIGHUP, systemctl reload tmaps); check the clocks",
			c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339), time.Now().UTC().Format(time.RFC3339))
	case errors.As(err, &invalid):
		return fmt.Sprintf("its certificate is not valid: %v", invalid)
	case errors.As(err, &record), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return "the server does not speak TLS: is --api http:// rather than https://?"
	}
	return ""
}

// dialFailed reports whether err happened before the request was sent, so
// that even a write can be retried.
func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func (s *Store) newRequest(ctx context.Context, c call, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, s.endpoint(c.path, c.query), rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set(ActorHeader, url.QueryEscape(store.Actor(ctx)))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// do sends c and decodes the answer, retrying as c allows.
func (s *Store) do(ctx context.Context, c call) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	var body []byte
	if c.body != nil {
		var err error
		if body, err = json.Marshal(c.body); err != nil {
			return err
		}
	}
	delay := s.opt.RetryDelay
	for attempt := 0; ; attempt++ {
		err := s.once1(ctx, c, body)
		if err == nil {
			return nil
		}
		var ne *netError
		if !errors.As(err, &ne) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt >= s.opt.Retries || !(c.read || dialFailed(ne.err)) {
			return s.unavailable(ne.err)
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closeCh:
			return store.ErrClosed
		}
		delay *= 2
	}
}

// netError marks a failure to talk to the server (as opposed to an answer).
type netError struct{ err error }

func (e *netError) Error() string { return e.err.Error() }

func (s *Store) once1(ctx context.Context, c call, body []byte) error {
	rctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()
	req, err := s.newRequest(rctx, c, body)
	if err != nil {
		return err
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return &netError{err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return &netError{err}
	}
	if resp.StatusCode >= 400 {
		return s.answerError(resp, data)
	}
	if c.header != nil {
		*c.header = resp.Header.Clone()
	}
	if c.out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.Unmarshal(data, c.out); err != nil {
			return fmt.Errorf("the tmaps API at %s sent an answer this client cannot read (%v): is it a tmaps server of the same version?", s.display, err)
		}
	}
	return nil
}

func (s *Store) answerError(resp *http.Response, data []byte) error {
	var body wire.Error
	jsonOK := json.Unmarshal(data, &body) == nil && body.Error != ""
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%w at %s (401): check TMAPS_TOKEN or --token; create a token on the server with `tmaps tokens create NAME`", ErrUnauthorized, s.display)
	case !jsonOK && (resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout):
		return &netError{fmt.Errorf("%s from a proxy in front of the API", resp.Status)}
	case !jsonOK:
		return fmt.Errorf("the tmaps API at %s answered %s without an error message: is --api the URL of `tmaps serve`?", s.display, resp.Status)
	}
	return wire.Decode(resp.StatusCode, body)
}

func seg(s string) string { return url.PathEscape(s) }

// ---- keys ----

func (s *Store) keyCall(ctx context.Context, c call) (model.Key, error) {
	var k wire.Key
	c.out = &k
	if err := s.do(ctx, c); err != nil {
		return model.Key{}, err
	}
	return k.ToKey()
}

func (s *Store) secretCall(ctx context.Context, c call) (model.Key, string, error) {
	var ks wire.KeyWithSecret
	c.out = &ks
	if err := s.do(ctx, c); err != nil {
		return model.Key{}, "", err
	}
	k, err := ks.Key.ToKey()
	if err != nil {
		return model.Key{}, "", err
	}
	return k, ks.Secret, nil
}

// checkText refuses text that JSON cannot carry as it is (invalid UTF-8
// would arrive as U+FFFD and could pass validation on the server).
func checkText(what, v string) error {
	if utf8.ValidString(v) {
		return nil
	}
	return fmt.Errorf("%w: the %s is not valid UTF-8", store.ErrInvalid, what)
}

// CreateKey implements store.Store.
func (s *Store) CreateKey(ctx context.Context, name string, p model.Policy) (model.Key, string, error) {
	if _, err := model.NormalizeKeyName(name); err != nil && !utf8.ValidString(name) {
		return model.Key{}, "", fmt.Errorf("%w: %w", store.ErrInvalid, err)
	}
	if err := checkPolicyText(p.Owner, p.Note); err != nil {
		return model.Key{}, "", err
	}
	return s.secretCall(ctx, call{method: "POST", path: "/v1/keys", body: wire.RequestFromPolicy(name, p)})
}

// checkPolicyText refuses an owner or note that JSON cannot carry as it is.
func checkPolicyText(owner, note string) error {
	if !utf8.ValidString(owner) {
		return &model.FieldError{Field: "owner", Err: fmt.Errorf("%w: the text is not valid UTF-8", store.ErrInvalid)}
	}
	if !utf8.ValidString(note) {
		return &model.FieldError{Field: "note", Err: fmt.Errorf("%w: the text is not valid UTF-8", store.ErrInvalid)}
	}
	return nil
}

// UpdateKey implements store.Store: PATCH /v1/keys/{id}.
func (s *Store) UpdateKey(ctx context.Context, id string, u model.KeyUpdate) (model.Key, error) {
	if id == "" {
		return model.Key{}, fmt.Errorf("%w: empty id", store.ErrKeyNotFound)
	}
	if u.Name != nil && !utf8.ValidString(*u.Name) {
		return model.Key{}, &model.FieldError{Field: "name", Err: fmt.Errorf("%w: the name is not valid UTF-8", store.ErrInvalid)}
	}
	var owner, note string
	if u.Owner != nil {
		owner = *u.Owner
	}
	if u.Note != nil {
		note = *u.Note
	}
	if err := checkPolicyText(owner, note); err != nil {
		return model.Key{}, err
	}
	return s.keyCall(ctx, call{method: "PATCH", path: "/v1/keys/" + seg(id), body: wire.RequestFromUpdate(u)})
}

// Key implements store.Store.
func (s *Store) Key(ctx context.Context, id string) (model.Key, error) {
	if id == "" {
		return model.Key{}, fmt.Errorf("%w: empty id", store.ErrKeyNotFound)
	}
	return s.keyCall(ctx, call{method: "GET", path: "/v1/keys/" + seg(id), read: true})
}

// KeyByDigest implements store.Store. Only the digest crosses the network.
func (s *Store) KeyByDigest(ctx context.Context, d model.Digest) (model.Key, error) {
	return s.keyCall(ctx, call{method: "POST", path: "/v1/keys/by-digest", body: wire.DigestRequest{Digest: d.String()}, read: true})
}

// Keys implements store.Store.
func (s *Store) Keys(ctx context.Context) ([]model.Key, error) {
	var ws []wire.Key
	if err := s.do(ctx, call{method: "GET", path: "/v1/keys", out: &ws, read: true}); err != nil {
		return nil, err
	}
	out := make([]model.Key, 0, len(ws))
	for _, w := range ws {
		k, err := w.ToKey()
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// RenameKey implements store.Store.
func (s *Store) RenameKey(ctx context.Context, id, name string) (model.Key, error) {
	if id == "" {
		return model.Key{}, fmt.Errorf("%w: empty id", store.ErrKeyNotFound)
	}
	if _, err := model.NormalizeKeyName(name); err != nil && !utf8.ValidString(name) {
		return model.Key{}, fmt.Errorf("%w: %w", store.ErrInvalid, err)
	}
	return s.keyCall(ctx, call{method: "POST", path: "/v1/keys/" + seg(id) + "/rename", body: wire.NameRequest{Name: name}})
}

func (s *Store) action(ctx context.Context, id, action string, body any) (model.Key, error) {
	if id == "" {
		return model.Key{}, fmt.Errorf("%w: empty id", store.ErrKeyNotFound)
	}
	return s.keyCall(ctx, call{method: "POST", path: "/v1/keys/" + seg(id) + "/" + action, body: body})
}

// DisableKey implements store.Store.
func (s *Store) DisableKey(ctx context.Context, id string) (model.Key, error) {
	return s.action(ctx, id, "disable", nil)
}

// EnableKey implements store.Store.
func (s *Store) EnableKey(ctx context.Context, id string) (model.Key, error) {
	return s.action(ctx, id, "enable", nil)
}

// RevokeKey implements store.Store.
func (s *Store) RevokeKey(ctx context.Context, id, confirm string) (model.Key, error) {
	if !utf8.ValidString(confirm) {
		// A name is always valid UTF-8, so this cannot match; report what
		// the server would, in its order.
		k, err := s.Key(ctx, id)
		if err != nil {
			return model.Key{}, err
		}
		if k.Status == model.Revoked {
			return model.Key{}, model.ErrKeyRevoked
		}
		return model.Key{}, model.ErrConfirmMismatch
	}
	return s.action(ctx, id, "revoke", wire.RevokeRequest{Confirm: confirm})
}

// RotateKey implements store.Store.
func (s *Store) RotateKey(ctx context.Context, id string, expireOldIn time.Duration) (model.Key, string, error) {
	if id == "" {
		return model.Key{}, "", fmt.Errorf("%w: empty id", store.ErrKeyNotFound)
	}
	if expireOldIn < 0 {
		return model.Key{}, "", &model.FieldError{Field: "expire_old_in", Err: fmt.Errorf("%w: the grace period cannot be negative", store.ErrInvalid)}
	}
	c := call{method: "POST", path: "/v1/keys/" + seg(id) + "/rotate"}
	if expireOldIn > 0 {
		c.body = wire.RotateRequest{ExpireOldIn: expireOldIn.String()}
	}
	return s.secretCall(ctx, c)
}

// LinkKey implements store.Store.
func (s *Store) LinkKey(ctx context.Context, id string, domains ...string) (model.Key, error) {
	return s.action(ctx, id, "link", wire.DomainsRequest{Domains: nonNil(domains)})
}

// UnlinkKey implements store.Store.
func (s *Store) UnlinkKey(ctx context.Context, id string, domains ...string) (model.Key, error) {
	return s.action(ctx, id, "unlink", wire.DomainsRequest{Domains: nonNil(domains)})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// RefusedHosts implements store.Store.
func (s *Store) RefusedHosts(ctx context.Context, keyID string) ([]store.RefusedHost, error) {
	if keyID == "" {
		return nil, fmt.Errorf("%w: empty id", store.ErrKeyNotFound)
	}
	// The route is paged: follow the cursors (a key has at most 100 hosts
	// per day kept, so this ends).
	var out []store.RefusedHost
	cursor := ""
	for {
		var page []store.RefusedHost
		var h http.Header
		q := url.Values{"limit": {strconv.Itoa(store.MaxRefusedPage)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		err := s.do(ctx, call{method: "GET", path: "/v1/keys/" + seg(keyID) + "/refused-hosts", query: q, out: &page, read: true, header: &h})
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if cursor = h.Get(wire.NextCursorHeader); cursor == "" || len(page) == 0 {
			break
		}
	}
	if len(out) == 0 {
		out = nil
	}
	return out, nil
}

// ---- domains ----

func fixDomain(d model.Domain) model.Domain {
	if len(d.Keys) == 0 {
		d.Keys = nil
	}
	return d
}

// AddDomain implements store.Store. On ErrDomainExists it returns the
// existing domain, as the local store does.
func (s *Store) AddDomain(ctx context.Context, name string) (model.Domain, error) {
	if !utf8.ValidString(name) {
		if _, err := model.NormalizeDomain(name); err != nil {
			return model.Domain{}, fmt.Errorf("%w: %w", store.ErrInvalid, err)
		}
		return model.Domain{}, checkText("domain", name)
	}
	var d model.Domain
	err := s.do(ctx, call{method: "POST", path: "/v1/domains", body: wire.NameRequest{Name: name}, out: &d})
	var ae *wire.APIError
	if errors.As(err, &ae) && ae.Body.Domain != nil {
		return fixDomain(*ae.Body.Domain), err
	}
	return fixDomain(d), err
}

// Domain implements store.Store.
func (s *Store) Domain(ctx context.Context, name string) (model.Domain, error) {
	if strings.TrimSpace(name) == "" {
		return model.Domain{}, fmt.Errorf("%w: empty name", store.ErrDomainNotFound)
	}
	var d model.Domain
	err := s.do(ctx, call{method: "GET", path: "/v1/domains/" + seg(name), out: &d, read: true})
	return fixDomain(d), err
}

// Domains implements store.Store.
func (s *Store) Domains(ctx context.Context) ([]model.Domain, error) {
	var ds []model.Domain
	if err := s.do(ctx, call{method: "GET", path: "/v1/domains", out: &ds, read: true}); err != nil {
		return nil, err
	}
	for i := range ds {
		ds[i] = fixDomain(ds[i])
	}
	return ds, nil
}

// DeleteDomain implements store.Store.
func (s *Store) DeleteDomain(ctx context.Context, name string) (model.Domain, error) {
	if strings.TrimSpace(name) == "" {
		return model.Domain{}, fmt.Errorf("%w: empty name", store.ErrDomainNotFound)
	}
	var d model.Domain
	err := s.do(ctx, call{method: "DELETE", path: "/v1/domains/" + seg(name), out: &d})
	return fixDomain(d), err
}

// ---- audit and usage ----

func timeParam(q url.Values, name string, t time.Time) {
	if !t.IsZero() {
		q.Set(name, t.UTC().Format(time.RFC3339Nano))
	}
}

// Audit implements store.Store.
func (s *Store) Audit(ctx context.Context, aq store.AuditQuery) ([]model.AuditEntry, error) {
	q := url.Values{}
	if aq.Object != "" {
		q.Set("object", aq.Object)
	}
	if aq.Actor != "" {
		q.Set("actor", aq.Actor)
	}
	if aq.Text != "" {
		q.Set("text", aq.Text)
	}
	if aq.Before != 0 {
		q.Set("before", strconv.FormatUint(aq.Before, 10))
	}
	timeParam(q, "since", aq.Since)
	if aq.Limit > 0 {
		q.Set("limit", strconv.Itoa(aq.Limit))
	}
	var es []model.AuditEntry
	if err := s.do(ctx, call{method: "GET", path: "/v1/audit", query: q, out: &es, read: true}); err != nil {
		return nil, err
	}
	if len(es) == 0 {
		es = nil
	}
	return es, nil
}

// RecordUsage implements store.Store.
func (s *Store) RecordUsage(ctx context.Context, deltas []store.UsageDelta) error {
	return s.do(ctx, call{method: "POST", path: "/v1/usage", body: wire.UsageRequest{Deltas: deltas}})
}

// Usage implements store.Store.
func (s *Store) Usage(ctx context.Context, uq store.UsageQuery) ([]store.UsageBucket, error) {
	q := url.Values{}
	if uq.KeyID != "" {
		q.Set("key", uq.KeyID)
	}
	timeParam(q, "since", uq.Since)
	timeParam(q, "until", uq.Until)
	var bs []store.UsageBucket
	if err := s.do(ctx, call{method: "GET", path: "/v1/usage", query: q, out: &bs, read: true}); err != nil {
		return nil, err
	}
	if len(bs) == 0 {
		bs = nil
	}
	return bs, nil
}

// ---- alerts ----

// Alerts implements store.AlertReader over GET /v1/alerts.
func (s *Store) Alerts(ctx context.Context, aq store.AlertQuery) ([]model.Alert, error) {
	q := url.Values{}
	if aq.KeyID != "" {
		q.Set("key", aq.KeyID)
	}
	timeParam(q, "since", aq.Since)
	if aq.Limit > 0 {
		q.Set("limit", strconv.Itoa(aq.Limit))
	}
	var as []wire.Alert
	if err := s.do(ctx, call{method: "GET", path: "/v1/alerts", query: q, out: &as, read: true}); err != nil {
		return nil, err
	}
	out := make([]model.Alert, len(as))
	for i, a := range as {
		out[i] = a.ToAlert()
	}
	return out, nil
}

var _ store.AlertReader = (*Store)(nil)

// ---- operator tokens (with an existing token) ----

// CreateToken creates another operator token on the server.
func (s *Store) CreateToken(ctx context.Context, name string, role model.Role) (store.Token, string, error) {
	var tw wire.TokenWithSecret
	if err := checkText("token name", name); err != nil {
		return store.Token{}, "", err
	}
	err := s.do(ctx, call{method: "POST", path: "/v1/tokens", body: wire.TokenRequest{Name: name, Role: role}, out: &tw})
	return tw.Token, tw.Secret, err
}

// SetTokenRole changes the role of an operator token on the server.
func (s *Store) SetTokenRole(ctx context.Context, name string, role model.Role) (store.Token, error) {
	var t store.Token
	if strings.TrimSpace(name) == "" {
		return t, fmt.Errorf("%w: empty name", store.ErrTokenNotFound)
	}
	err := s.do(ctx, call{method: "POST", path: "/v1/tokens/" + seg(name) + "/role", body: wire.RoleRequest{Role: role}, out: &t})
	return t, err
}

// WhoAmI returns the name and role of the store's operator token.
func (s *Store) WhoAmI(ctx context.Context) (wire.WhoAmI, error) {
	var w wire.WhoAmI
	err := s.do(ctx, call{method: "GET", path: "/v1/whoami", out: &w, read: true})
	return w, err
}

// Tokens lists the server's operator tokens.
func (s *Store) Tokens(ctx context.Context) ([]store.Token, error) {
	var ts []store.Token
	err := s.do(ctx, call{method: "GET", path: "/v1/tokens", out: &ts, read: true})
	return ts, err
}

// RevokeToken revokes an operator token on the server.
func (s *Store) RevokeToken(ctx context.Context, name string) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("%w: empty name", store.ErrTokenNotFound)
	}
	return s.do(ctx, call{method: "DELETE", path: "/v1/tokens/" + seg(name)})
}
