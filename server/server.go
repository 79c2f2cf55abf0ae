// Package server is the management HTTP API of `tmaps serve`: JSON routes
// under /v1 for everything the console and the CLI do, guarded by operator
// tokens, plus the gate's /v1/authorize and /metrics mounted beside them.
// The route table (Routes) is the single list used to register handlers, by
// the tests, and checked against docs/openapi.yaml.
package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/wire"
)

// DefaultMaxBody is the largest request body accepted (64 KiB).
const DefaultMaxBody = 64 << 10

// Options configure a Server.
type Options struct {
	// Tokens checks operator tokens; required.
	Tokens store.TokenStore
	// Authorize answers GET /v1/authorize (the gate's handler). Nil answers 503.
	Authorize http.Handler
	// LeakKeys verify the signature of leak reports (POST /v1/leaks);
	// nil answers 503 there. OnLeakDisable disables an Active key a report
	// names, at once.
	LeakKeys      *LeakKeys
	OnLeakDisable bool
	// Metrics answers GET /metrics (after the token check), e.g. a
	// promhttp handler. Nil answers 503.
	Metrics http.Handler
	// Registerer receives the API's own metrics (requests by route and
	// status, their latency, open event streams); nil keeps them
	// unregistered.
	Registerer prometheus.Registerer
	// Logger receives request logs; nil discards them. Wrap it with
	// NewRedactingHandler (New does not, so callers choose the handler).
	Logger *slog.Logger
	// MaxBody is the largest request body; 0 means DefaultMaxBody.
	MaxBody int64
	// TrustActorHeader records the audit actor a client declares in the
	// X-Tmaps-Actor header (URL-query-escaped; e.g. the OS user of a remote
	// console sharing a token) instead of the token's name. Off by default:
	// the audit actor is then the token's name.
	TrustActorHeader bool
	// Heartbeat is the interval of keep-alive comments on /v1/events;
	// 0 means 15 seconds.
	Heartbeat time.Duration
	// Readiness answers GET /readyz (the daemon's); nil answers 503.
	Readiness func(ctx context.Context) Readiness
	// Sync, when set, is called after every successful change of a key,
	// a link or a domain, before the answer (read your writes): the
	// daemon passes its gate's Sync, so that the answer comes only once
	// the gate decides with the change. An error (or SyncTimeout passing)
	// answers 503 "not_applied": the change is saved but not yet in force
	// on this node.
	Sync func(ctx context.Context) error
	// SyncTimeout bounds Sync; 0 means 5 seconds.
	SyncTimeout time.Duration
	// Now is the clock of reports (GET /v1/hygiene); nil means time.Now.
	Now func() time.Time
}

// Server serves the management API over a store.
type Server struct {
	s    store.Store
	opt  Options
	log  *slog.Logger
	mux  *http.ServeMux
	stop chan struct{}
	once sync.Once
	// live holds the requests in flight by token; followTokens ends
	// those of a revoked token until unfollow is called (Close).
	live     live
	unfollow context.CancelFunc
	// started is when New ran, for /healthz's uptime.
	started time.Time
	met     *apiMetrics
}

// Route is one route of the API.
type Route struct {
	Method string
	Path   string // a net/http ServeMux pattern path, e.g. /v1/keys/{id}
	// Op is what the route does, checked against the caller's role (the
	// role table is model's); "" for the routes without an operator token
	// (the gate, signed leak reports).
	Op      model.Op
	handler func(*Server, http.ResponseWriter, *http.Request)
}

// Auth reports whether the route requires an operator token.
func (rt Route) Auth() bool { return rt.Op != "" }

// routes is the route table: handlers are registered from it with their
// role check, the tests iterate it, and docs/openapi.yaml must list
// exactly these.
var routes = []Route{
	{"GET", "/v1/keys", model.OpKeysRead, (*Server).listKeys},
	{"POST", "/v1/keys", model.OpKeysCreate, (*Server).createKey},
	{"POST", "/v1/keys/by-digest", model.OpKeysRead, (*Server).keyByDigest},
	{"GET", "/v1/keys/{id}", model.OpKeysRead, (*Server).getKey},
	{"PATCH", "/v1/keys/{id}", model.OpKeysPolicy, (*Server).updateKey},
	{"POST", "/v1/keys/{id}/rename", model.OpKeysRename, (*Server).renameKey},
	{"POST", "/v1/keys/{id}/disable", model.OpKeysDisable, (*Server).disableKey},
	{"POST", "/v1/keys/{id}/enable", model.OpKeysEnable, (*Server).enableKey},
	{"POST", "/v1/keys/{id}/revoke", model.OpKeysRevoke, (*Server).revokeKey},
	{"POST", "/v1/keys/{id}/rotate", model.OpKeysRotate, (*Server).rotateKey},
	{"POST", "/v1/keys/{id}/link", model.OpKeysLink, (*Server).linkKey},
	{"POST", "/v1/keys/{id}/unlink", model.OpKeysUnlink, (*Server).unlinkKey},
	{"GET", "/v1/keys/{id}/refused-hosts", model.OpUsageRead, (*Server).refusedHosts},
	{"GET", "/v1/keys/{id}/matched-hosts", model.OpUsageRead, (*Server).matchedHosts},
	{"GET", "/v1/domains", model.OpDomainsRead, (*Server).listDomains},
	{"POST", "/v1/domains", model.OpDomainsAdd, (*Server).addDomain},
	{"GET", "/v1/domains/{name}", model.OpDomainsRead, (*Server).getDomain},
	{"DELETE", "/v1/domains/{name}", model.OpDomainsDelete, (*Server).deleteDomain},
	{"GET", "/v1/audit", model.OpAuditRead, (*Server).audit},
	{"GET", "/v1/usage", model.OpUsageRead, (*Server).usage},
	{"POST", "/v1/usage", model.OpUsageRecord, (*Server).recordUsage},
	{"GET", "/v1/hygiene", model.OpHygieneRead, (*Server).hygiene},
	{"GET", "/v1/alerts", model.OpAlertsRead, (*Server).alerts},
	{"GET", "/v1/events", model.OpEventsRead, (*Server).events},
	{"GET", "/v1/tokens", model.OpTokensRead, (*Server).listTokens},
	{"POST", "/v1/tokens", model.OpTokensCreate, (*Server).createToken},
	{"DELETE", "/v1/tokens/{name}", model.OpTokensRevoke, (*Server).revokeToken},
	{"POST", "/v1/tokens/{name}/role", model.OpTokensSetRole, (*Server).setTokenRole},
	{"GET", "/v1/whoami", model.OpWhoAmI, (*Server).whoAmI},
	{"GET", "/v1/backup", model.OpStoreBackup, (*Server).backup},
	{"GET", "/metrics", model.OpMetricsRead, (*Server).metrics},
	{"GET", "/v1/authorize", "", (*Server).authorize},
	{"POST", "/v1/leaks", "", (*Server).leaks},
	{"GET", "/healthz", "", (*Server).healthz},
	{"GET", "/readyz", "", (*Server).readyz},
}

// Routes returns a copy of the route table.
func Routes() []Route { return append([]Route(nil), routes...) }

// New returns a Server over s.
func New(s store.Store, opt Options) (*Server, error) {
	if s == nil {
		return nil, errors.New("server: nil store")
	}
	if opt.Tokens == nil {
		return nil, errors.New("server: no token store: operator tokens live in the daemon's local store")
	}
	if opt.MaxBody <= 0 {
		opt.MaxBody = DefaultMaxBody
	}
	if opt.Heartbeat <= 0 {
		opt.Heartbeat = 15 * time.Second
	}
	if opt.SyncTimeout <= 0 {
		opt.SyncTimeout = 5 * time.Second
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	met, err := newAPIMetrics(opt.Registerer)
	if err != nil {
		return nil, err
	}
	srv := &Server{s: s, opt: opt, log: log, mux: http.NewServeMux(), stop: make(chan struct{}), started: time.Now(), met: met}
	for _, rt := range routes {
		h := rt.handler
		var hf http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(srv, w, r) })
		if rt.Auth() {
			hf = srv.requireToken(srv.requireRole(rt.Op, hf))
		}
		if rt.Path != "/v1/authorize" { // the gate's hot path has its own metrics
			hf = met.instrument(rt.Method+" "+rt.Path, hf)
		}
		srv.mux.Handle(rt.Method+" "+rt.Path, hf)
	}
	var follow context.Context
	follow, srv.unfollow = context.WithCancel(context.Background())
	srv.followTokens(follow)
	return srv, nil
}

// Handler returns the API with request logging.
func (srv *Server) Handler() http.Handler { return srv.logRequests(http.HandlerFunc(srv.route)) }

// route dispatches to the mux, answering unknown routes (404) and wrong
// methods (405, with Allow) in JSON like every other error.
func (srv *Server) route(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/authorize" { // the gate decides its own input (SPEC.md)
		if msg := invalidUTF8(r); msg != "" {
			badRequest(w, msg)
			return
		}
	}
	h, pattern := srv.mux.Handler(r)
	if pattern != "" {
		srv.mux.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	defer func() { srv.met.observe("unmatched", w, start) }()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if allow := rec.Header().Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, wire.Error{Error: "method not allowed: use " + allow, Code: "method_not_allowed"})
		return
	}
	if rec.Code == http.StatusMovedPermanently || rec.Code == http.StatusTemporaryRedirect || rec.Code == http.StatusPermanentRedirect {
		srv.mux.ServeHTTP(w, r)
		return
	}
	writeError(w, http.StatusNotFound, wire.Error{Error: "no such route: see docs/api.md", Code: "no_route"})
}

// invalidUTF8 names the part of r's URL that is not valid UTF-8 once
// percent-decoded, or returns "".
func invalidUTF8(r *http.Request) string {
	if !utf8.ValidString(r.URL.Path) {
		return "the path is not valid UTF-8 once percent-decoded"
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "the query string is malformed: " + err.Error()
	}
	for k, vs := range q {
		if !utf8.ValidString(k) {
			return "a query parameter name is not valid UTF-8"
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return fmt.Sprintf("the query parameter %q is not valid UTF-8", model.Escape(k))
			}
		}
	}
	return ""
}

// Close ends the open event streams so that http.Server.Shutdown does not
// wait for them. Register it with (*http.Server).RegisterOnShutdown.
func (srv *Server) Close() {
	srv.once.Do(func() {
		close(srv.stop)
		srv.unfollow()
	})
}

// ActorHeader is the header of TrustActorHeader.
const ActorHeader = "X-Tmaps-Actor"

type tokenCtxKey struct{}

// callerToken is the token of an authenticated request.
func callerToken(ctx context.Context) store.Token {
	t, _ := ctx.Value(tokenCtxKey{}).(store.Token)
	return t
}

// requireToken checks the bearer token and sets the audit actor to the
// token's name. Anything but a valid token is 401 {"error":"unauthorized"}.
func (srv *Server) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok, err := srv.checkToken(r)
		if err != nil {
			// The store cannot say (no quorum): not the client's fault.
			srv.fail(w, r, err)
			return
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tmaps"`)
			writeError(w, http.StatusUnauthorized, wire.Error{Error: "unauthorized"})
			return
		}
		actor := tok.Name
		if srv.opt.TrustActorHeader {
			if h := r.Header.Get(ActorHeader); h != "" {
				v, err := url.QueryUnescape(h)
				if err == nil {
					err = model.CheckText("actor", v)
				}
				if err != nil {
					badRequest(w, ActorHeader+": "+err.Error())
					return
				}
				if v = strings.TrimSpace(v); v != "" {
					actor = v
				}
			}
		}
		ctx := store.WithActor(r.Context(), actor)
		ctx = context.WithValue(ctx, tokenCtxKey{}, tok)
		ctx, done := srv.live.add(ctx, tok.Digest)
		defer done()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// requireRole refuses a request whose token's role may not do op: 403
// {"error":"forbidden: <role> cannot <op>","code":"forbidden"}, before the
// body is read, and audited as a refusal. This is the one role check of
// the API; the role table is model's.
func (srv *Server) requireRole(op model.Op, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := callerToken(r.Context())
		if err := tok.Role.Check(op); err != nil {
			if op.Changes() {
				if aa, ok := srv.s.(store.AuditAppender); ok {
					if aerr := aa.AppendAudit(r.Context(), model.AuditRefused, routeObject(r), "", string(op)); aerr != nil {
						srv.log.Error("cannot audit a refusal", "err", aerr)
					}
				}
			}
			srv.log.Warn("refused by role", "token", tok.Name, "role", string(tok.Role), "op", string(op))
			srv.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// routeObject names the object of a request for the audit log: "key:ID",
// "domain:NAME", "token:NAME" or "".
func routeObject(r *http.Request) string {
	if id := r.PathValue("id"); id != "" {
		return "key:" + id
	}
	if name := r.PathValue("name"); name != "" {
		if strings.HasPrefix(r.URL.Path, "/v1/tokens/") {
			return "token:" + name
		}
		return "domain:" + name
	}
	return ""
}

func (srv *Server) checkToken(r *http.Request) (store.Token, bool, error) {
	h := r.Header.Values("Authorization")
	if len(h) != 1 {
		return store.Token{}, false, nil
	}
	scheme, secret, ok := strings.Cut(h[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return store.Token{}, false, nil
	}
	secret = strings.TrimSpace(secret)
	if secret == "" || len(secret) > 256 {
		return store.Token{}, false, nil
	}
	d := sha256.Sum256([]byte(secret))
	tok, err := srv.opt.Tokens.TokenByDigest(r.Context(), d)
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			return store.Token{}, false, err
		}
		if !errors.Is(err, store.ErrNotFound) {
			srv.log.Error("token lookup failed", "err", err)
		}
		return store.Token{}, false, nil
	}
	if subtle.ConstantTimeCompare(tok.Digest[:], d[:]) != 1 {
		return store.Token{}, false, nil
	}
	return tok, true, nil
}

// ---- helpers ----

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, e wire.Error) {
	writeJSON(w, status, e)
}

// fail answers err with its status and code; unknown errors are logged and
// answered 500 without details.
func (srv *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, body := wire.Classify(err)
	switch status {
	case http.StatusInternalServerError:
		srv.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	case http.StatusServiceUnavailable:
		srv.log.Warn("request failed: store unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, status, body)
}

func badRequest(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusBadRequest, wire.Error{Error: msg, Code: wire.CodeBadRequest})
}

// decode reads a JSON body into v with wire.Unmarshal (at most MaxBody
// bytes of valid UTF-8, one value, only v's fields spelled exactly, none
// twice, no lone surrogate). When optional, an empty body leaves v as it
// is. It answers the error itself (400, 413) and returns false on failure.
func (srv *Server) decode(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	r.Body = http.MaxBytesReader(w, r.Body, srv.opt.MaxBody)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, wire.Error{
				Error: fmt.Sprintf("request body too large: at most %d bytes", mbe.Limit), Code: wire.CodeTooLarge})
			return false
		}
		badRequest(w, "cannot read the request body")
		return false
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		if optional {
			return true
		}
		badRequest(w, "a JSON body is required: see docs/api.md")
		return false
	}
	if err := wire.Unmarshal(body, v); err != nil {
		badRequest(w, "bad JSON: "+err.Error())
		return false
	}
	return true
}

func keysOut(ks []model.Key) []wire.Key {
	out := make([]wire.Key, len(ks))
	for i, k := range ks {
		out[i] = wire.FromKey(k)
	}
	return out
}

func domainOut(d model.Domain) model.Domain {
	d = d.Clone()
	if d.Keys == nil {
		d.Keys = []string{}
	}
	return d
}

func parseTime(q string, name string) (time.Time, error) {
	if q == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, q)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s must be an RFC 3339 time such as 2026-01-02T15:04:05Z", name)
	}
	return t, nil
}

// ---- keys ----

func (srv *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	ks, err := srv.s.Keys(r.Context())
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, keysOut(ks))
}

func (srv *Server) createKey(w http.ResponseWriter, r *http.Request) {
	var req wire.KeyRequest
	if !srv.decode(w, r, &req, false) {
		return
	}
	u, ok := srv.keyUpdate(w, r, req)
	if !ok {
		return
	}
	if u.Name == nil {
		u.Name = new(string) // the name is required: Apply says so
	}
	nk, err := u.Apply(model.Key{})
	if err != nil {
		srv.fail(w, r, invalidErr(err))
		return
	}
	k, secret, err := srv.s.CreateKey(r.Context(), nk.Name, nk.Policy)
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	if !srv.synced(w, r) {
		return
	}
	writeJSON(w, http.StatusCreated, wire.KeyWithSecret{Key: wire.FromKey(k), Secret: secret})
}

func (srv *Server) keyByDigest(w http.ResponseWriter, r *http.Request) {
	var req wire.DigestRequest
	if !srv.decode(w, r, &req, false) {
		return
	}
	d, err := model.ParseDigest(req.Digest)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, wire.Error{Error: "digest must be 64 lowercase hex characters (the SHA-256 of the secret, never the secret)", Code: "invalid"})
		return
	}
	srv.keyResult(w, r, http.StatusOK)(srv.s.KeyByDigest(r.Context(), d))
}

func (srv *Server) keyResult(w http.ResponseWriter, r *http.Request, status int) func(model.Key, error) {
	return func(k model.Key, err error) {
		if err != nil {
			srv.fail(w, r, err)
			return
		}
		writeJSON(w, status, wire.FromKey(k))
	}
}

// keyChanged answers a change of a key once synced (see synced).
func (srv *Server) keyChanged(w http.ResponseWriter, r *http.Request, status int) func(model.Key, error) {
	return func(k model.Key, err error) {
		if err != nil {
			srv.fail(w, r, err)
			return
		}
		if srv.synced(w, r) {
			writeJSON(w, status, wire.FromKey(k))
		}
	}
}

// synced waits, after a successful change, until Options.Sync says the
// gate decides with it. On failure it answers 503 itself and returns false.
func (srv *Server) synced(w http.ResponseWriter, r *http.Request) bool {
	if srv.opt.Sync == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(r.Context(), srv.opt.SyncTimeout)
	defer cancel()
	if err := srv.opt.Sync(ctx); err != nil {
		srv.log.Error("a change is saved but the gate has not applied it", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusServiceUnavailable, wire.Error{
			Error: "the change is saved, but this node's gate has not applied it yet: check it with GET before relying on it",
			Code:  wire.CodeNotApplied})
		return false
	}
	return true
}

func (srv *Server) getKey(w http.ResponseWriter, r *http.Request) {
	srv.keyResult(w, r, http.StatusOK)(srv.s.Key(r.Context(), r.PathValue("id")))
}

// updateKey applies a PATCH: the name and policy fields the body names.
func (srv *Server) updateKey(w http.ResponseWriter, r *http.Request) {
	var req wire.KeyRequest
	if !srv.decode(w, r, &req, false) {
		return
	}
	u, ok := srv.keyUpdate(w, r, req)
	if !ok {
		return
	}
	srv.keyChanged(w, r, http.StatusOK)(srv.s.UpdateKey(r.Context(), r.PathValue("id"), u))
}

// keyUpdate reads a KeyRequest's fields: a field of the wrong type is 400,
// a value the model refuses 422, both naming the field. It answers the
// error itself and returns false on failure.
func (srv *Server) keyUpdate(w http.ResponseWriter, r *http.Request, req wire.KeyRequest) (model.KeyUpdate, bool) {
	u, err := req.Update()
	var te *wire.TypeError
	switch {
	case errors.As(err, &te):
		writeError(w, http.StatusBadRequest, wire.Error{Error: "bad JSON: " + te.Error(), Code: wire.CodeBadRequest, Field: te.Field})
		return u, false
	case err != nil:
		srv.fail(w, r, err)
		return u, false
	}
	return u, true
}

// invalidErr makes a model validation error also a store.ErrInvalid.
func invalidErr(err error) error {
	if errors.Is(err, store.ErrInvalid) {
		return err
	}
	return invalidInput{err}
}

// invalidInput is a validation error that is also store.ErrInvalid, with
// the validation error's own message.
type invalidInput struct{ err error }

func (e invalidInput) Error() string   { return e.err.Error() }
func (e invalidInput) Unwrap() []error { return []error{e.err, store.ErrInvalid} }

func (srv *Server) renameKey(w http.ResponseWriter, r *http.Request) {
	var req wire.NameRequest
	if !srv.decode(w, r, &req, false) {
		return
	}
	srv.keyChanged(w, r, http.StatusOK)(srv.s.RenameKey(r.Context(), r.PathValue("id"), req.Name))
}

func (srv *Server) disableKey(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if !srv.decode(w, r, &req, true) {
		return
	}
	srv.keyChanged(w, r, http.StatusOK)(srv.s.DisableKey(r.Context(), r.PathValue("id")))
}

func (srv *Server) enableKey(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if !srv.decode(w, r, &req, true) {
		return
	}
	srv.keyChanged(w, r, http.StatusOK)(srv.s.EnableKey(r.Context(), r.PathValue("id")))
}

func (srv *Server) revokeKey(w http.ResponseWriter, r *http.Request) {
	var req wire.RevokeRequest
	if !srv.decode(w, r, &req, false) {
		return
	}
	srv.keyChanged(w, r, http.StatusOK)(srv.s.RevokeKey(r.Context(), r.PathValue("id"), req.Confirm))
}

func (srv *Server) rotateKey(w http.ResponseWriter, r *http.Request) {
	var req wire.RotateRequest
	if !srv.decode(w, r, &req, true) {
		return
	}
	var grace time.Duration
	if req.ExpireOldIn != "" {
		d, err := time.ParseDuration(req.ExpireOldIn)
		if err != nil || d < 0 {
			srv.fail(w, r, invalidErr(&model.FieldError{Field: "expire_old_in",
				Err: errors.New("must be a duration such as \"24h\" or \"90m\", not negative")}))
			return
		}
		grace = d
	}
	k, secret, err := srv.s.RotateKey(r.Context(), r.PathValue("id"), grace)
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	if !srv.synced(w, r) {
		return
	}
	writeJSON(w, http.StatusCreated, wire.KeyWithSecret{Key: wire.FromKey(k), Secret: secret})
}

// decodeDomains reads the body of link and unlink: "domains" must be there
// and name at least one domain.
func (srv *Server) decodeDomains(w http.ResponseWriter, r *http.Request) ([]string, bool) {
	var req wire.DomainsRequest
	if !srv.decode(w, r, &req, false) {
		return nil, false
	}
	if len(req.Domains) == 0 {
		badRequest(w, `"domains" must list at least one domain, e.g. {"domains":["mysite.tn"]}`)
		return nil, false
	}
	return req.Domains, true
}

func (srv *Server) linkKey(w http.ResponseWriter, r *http.Request) {
	domains, ok := srv.decodeDomains(w, r)
	if !ok {
		return
	}
	srv.keyChanged(w, r, http.StatusOK)(srv.s.LinkKey(r.Context(), r.PathValue("id"), domains...))
}

func (srv *Server) unlinkKey(w http.ResponseWriter, r *http.Request) {
	domains, ok := srv.decodeDomains(w, r)
	if !ok {
		return
	}
	srv.keyChanged(w, r, http.StatusOK)(srv.s.UnlinkKey(r.Context(), r.PathValue("id"), domains...))
}

// refusedHosts answers one page of a key's refused hosts: ?limit= (default
// 100, at most 1000) and ?cursor= from the previous page's X-Next-Cursor
// header, absent after the last page.
func (srv *Server) refusedHosts(w http.ResponseWriter, r *http.Request) {
	qv := r.URL.Query()
	limit := store.DefaultRefusedPage
	if l := qv.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > store.MaxRefusedPage {
			badRequest(w, fmt.Sprintf("limit must be a whole number from 1 to %d", store.MaxRefusedPage))
			return
		}
		limit = n
	}
	hs, err := srv.s.RefusedHosts(r.Context(), r.PathValue("id"))
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	page, next, err := store.PageRefusedHosts(hs, limit, qv.Get("cursor"))
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	if page == nil {
		page = []store.RefusedHost{}
	}
	if next != "" {
		w.Header().Set(wire.NextCursorHeader, next)
	}
	writeJSON(w, http.StatusOK, page)
}

// ---- domains ----

func (srv *Server) listDomains(w http.ResponseWriter, r *http.Request) {
	ds, err := srv.s.Domains(r.Context())
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	out := make([]model.Domain, len(ds))
	for i, d := range ds {
		out[i] = domainOut(d)
	}
	writeJSON(w, http.StatusOK, out)
}

func (srv *Server) addDomain(w http.ResponseWriter, r *http.Request) {
	var req wire.NameRequest
	if !srv.decode(w, r, &req, false) {
		return
	}
	d, err := srv.s.AddDomain(r.Context(), req.Name)
	if err != nil {
		status, body := wire.Classify(err)
		if errors.Is(err, store.ErrDomainExists) && d.Name != "" {
			dd := domainOut(d)
			body.Domain = &dd
		}
		if status == http.StatusInternalServerError {
			srv.fail(w, r, err)
			return
		}
		writeError(w, status, body)
		return
	}
	if !srv.synced(w, r) {
		return
	}
	writeJSON(w, http.StatusCreated, domainOut(d))
}

func (srv *Server) domainResult(w http.ResponseWriter, r *http.Request) func(model.Domain, error) {
	return func(d model.Domain, err error) {
		if err != nil {
			srv.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, domainOut(d))
	}
}

func (srv *Server) getDomain(w http.ResponseWriter, r *http.Request) {
	srv.domainResult(w, r)(srv.s.Domain(r.Context(), r.PathValue("name")))
}

func (srv *Server) deleteDomain(w http.ResponseWriter, r *http.Request) {
	d, err := srv.s.DeleteDomain(r.Context(), r.PathValue("name"))
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	if srv.synced(w, r) {
		writeJSON(w, http.StatusOK, domainOut(d))
	}
}

// ---- audit and usage ----

func (srv *Server) audit(w http.ResponseWriter, r *http.Request) {
	qv := r.URL.Query()
	q := store.AuditQuery{Object: qv.Get("object"), Actor: qv.Get("actor"), Text: qv.Get("text")}
	var err error
	if q.Since, err = parseTime(qv.Get("since"), "since"); err != nil {
		badRequest(w, err.Error())
		return
	}
	if b := qv.Get("before"); b != "" {
		if q.Before, err = strconv.ParseUint(b, 10, 64); err != nil || q.Before == 0 {
			badRequest(w, "before must be the seq of an audit entry (a whole number ≥ 1)")
			return
		}
	}
	if l := qv.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			badRequest(w, "limit must be a whole number ≥ 0 (0 means no limit)")
			return
		}
		q.Limit = n
	}
	es, err := srv.s.Audit(r.Context(), q)
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	if es == nil {
		es = []model.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, es)
}

func (srv *Server) usage(w http.ResponseWriter, r *http.Request) {
	qv := r.URL.Query()
	q := store.UsageQuery{KeyID: qv.Get("key")}
	var err error
	if q.Since, err = parseTime(qv.Get("since"), "since"); err != nil {
		badRequest(w, err.Error())
		return
	}
	if q.Until, err = parseTime(qv.Get("until"), "until"); err != nil {
		badRequest(w, err.Error())
		return
	}
	bs, err := srv.s.Usage(r.Context(), q)
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	if bs == nil {
		bs = []store.UsageBucket{}
	}
	writeJSON(w, http.StatusOK, bs)
}

func (srv *Server) recordUsage(w http.ResponseWriter, r *http.Request) {
	var req wire.UsageRequest
	if !srv.decode(w, r, &req, false) {
		return
	}
	if err := srv.s.RecordUsage(r.Context(), req.Deltas); err != nil {
		srv.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ---- alerts ----

func (srv *Server) alerts(w http.ResponseWriter, r *http.Request) {
	ar, ok := srv.s.(store.AlertReader)
	if !ok {
		srv.fail(w, r, store.ErrNoAlerts)
		return
	}
	qv := r.URL.Query()
	q := store.AlertQuery{KeyID: qv.Get("key")}
	var err error
	if q.Since, err = parseTime(qv.Get("since"), "since"); err != nil {
		badRequest(w, err.Error())
		return
	}
	if l := qv.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			badRequest(w, "limit must be a whole number ≥ 0 (0 means no limit)")
			return
		}
		q.Limit = n
	}
	as, err := ar.Alerts(r.Context(), q)
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	out := make([]wire.Alert, len(as))
	for i, a := range as {
		out[i] = wire.FromAlert(a)
	}
	writeJSON(w, http.StatusOK, out)
}

// ---- events ----

// events streams change events as server-sent events: one "data:" line of
// JSON per event. The subscription is made before the response headers are
// sent, so a client that has the headers misses nothing after them.
func (srv *Server) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	ch, err := srv.s.Watch(ctx)
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	srv.met.streams.Inc()
	defer srv.met.streams.Dec()
	// The stream outlives the server's read and write timeouts: an expired
	// read deadline would end the request's context.
	_ = rc.SetWriteDeadline(time.Time{})
	_ = rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := io.WriteString(w, ": connected\n\n"); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		return
	}
	tick := time.NewTicker(srv.opt.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-srv.stop:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := io.WriteString(w, ": ping\n\n"); err != nil {
				return
			}
		case ev, ok := <-ch:
			if !ok {
				return
			}
			if ev.Kind == store.EventToken && srv.revoked(ctx) {
				// Nothing committed after the revocation reaches the
				// stream: events arrive in commit order.
				return
			}
			b, _ := json.Marshal(ev)
			if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
				return
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// revoked reports whether the token of the request in ctx no longer exists.
func (srv *Server) revoked(ctx context.Context) bool {
	d, ok := tokenOf(ctx)
	if !ok {
		return false
	}
	_, err := srv.opt.Tokens.TokenByDigest(context.WithoutCancel(ctx), d)
	return errors.Is(err, store.ErrNotFound)
}

// ---- tokens ----

func (srv *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	ts, err := srv.opt.Tokens.Tokens(r.Context())
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	if ts == nil {
		ts = []store.Token{}
	}
	writeJSON(w, http.StatusOK, ts)
}

func (srv *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var req wire.TokenRequest
	if !srv.decode(w, r, &req, false) {
		return
	}
	if req.Role == "" {
		req.Role = model.RoleAdmin
	}
	t, secret, err := srv.opt.Tokens.CreateToken(r.Context(), req.Name, req.Role)
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, wire.TokenWithSecret{Token: t, Secret: secret})
}

func (srv *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	if err := srv.opt.Tokens.RevokeToken(r.Context(), r.PathValue("name")); err != nil {
		srv.fail(w, r, err)
		return
	}
	// End the token's requests in flight before answering (the store's
	// event reaches followTokens a moment later).
	srv.live.recheck(context.WithoutCancel(r.Context()), srv.opt.Tokens)
	w.WriteHeader(http.StatusNoContent)
}

func (srv *Server) setTokenRole(w http.ResponseWriter, r *http.Request) {
	var req wire.RoleRequest
	if !srv.decode(w, r, &req, false) {
		return
	}
	t, err := srv.opt.Tokens.SetTokenRole(r.Context(), r.PathValue("name"), req.Role)
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (srv *Server) whoAmI(w http.ResponseWriter, r *http.Request) {
	tok := callerToken(r.Context())
	writeJSON(w, http.StatusOK, wire.WhoAmI{Token: tok.Name, Role: tok.Role})
}

// ---- gate ----

func (srv *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if srv.opt.Authorize == nil {
		writeError(w, http.StatusServiceUnavailable, wire.Error{Error: "the gate is not running", Code: "unavailable"})
		return
	}
	srv.opt.Authorize.ServeHTTP(w, r)
}

func (srv *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if srv.opt.Metrics == nil {
		writeError(w, http.StatusServiceUnavailable, wire.Error{Error: "metrics are not available", Code: "unavailable"})
		return
	}
	srv.opt.Metrics.ServeHTTP(w, r)
}

// ---- logging ----

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logRequests logs one line per request, with the query's api_key and any
// secret redacted. The gate's /v1/authorize is logged at debug level only:
// it is the hot path.
func (srv *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		level := slog.LevelInfo
		switch r.URL.Path {
		case "/v1/authorize", "/healthz", "/readyz":
			// The hot path, and probes every few seconds.
			level = slog.LevelDebug
		}
		if !srv.log.Enabled(r.Context(), level) {
			return
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		srv.log.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method),
			slog.String("url", RedactURL(r.URL)),
			slog.Int("status", status),
			slog.Int64("bytes", sw.bytes),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote", r.RemoteAddr),
		)
	})
}
