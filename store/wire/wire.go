// Package wire holds the JSON shapes of the management API and the table
// that maps store and model errors to HTTP statuses and machine codes. The
// server (package server) and the client (package store/remote) share it, so
// an error crosses the wire and comes back as the same sentinel.
package wire

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// Key is a key as the API sends it: the model's key plus the digest of its
// secret in hex (a SHA-256 of 128 random bits; never the secret itself).
type Key struct {
	model.Key
	Digest string `json:"digest"`
}

// FromKey converts a model key to its wire form.
func FromKey(k model.Key) Key {
	k = k.Clone()
	if k.Domains == nil {
		k.Domains = []string{}
	}
	if k.AllowIPs == nil {
		k.AllowIPs = []netip.Prefix{}
	}
	return Key{Key: k, Digest: k.Digest.String()}
}

// ToKey converts a wire key back to the model's key.
func (k Key) ToKey() (model.Key, error) {
	out := k.Key.Clone()
	if k.Digest != "" {
		d, err := model.ParseDigest(k.Digest)
		if err != nil {
			return model.Key{}, err
		}
		out.Digest = d
	}
	if len(out.Domains) == 0 {
		out.Domains = nil
	}
	if len(out.AllowIPs) == 0 {
		out.AllowIPs = nil
	}
	return out, nil
}

// KeyWithSecret answers create and rotate: the key and its secret, shown once.
type KeyWithSecret struct {
	Key    Key    `json:"key"`
	Secret string `json:"secret"`
}

// NameRequest is the body of POST /v1/keys, POST /v1/keys/{id}/rename,
// POST /v1/domains and POST /v1/tokens.
type NameRequest struct {
	Name string `json:"name"`
}

// KeyRequest is the body of POST /v1/keys (name required, policy fields
// optional) and of PATCH /v1/keys/{id} (any field). A field left out stays
// as it is; null clears it (kind unset, no expiry, any address, no rate
// limit, default burst, no quota, no owner, no note; a name cannot be
// null). Each field is kept raw so that a bad one is reported by name.
type KeyRequest struct {
	Name     json.RawMessage `json:"name,omitempty"`
	Kind     json.RawMessage `json:"kind,omitempty"`
	Expires  json.RawMessage `json:"expires,omitempty"`   // RFC 3339
	AllowIPs json.RawMessage `json:"allow_ips,omitempty"` // ["203.0.113.7", "10.0.0.0/8"]
	Rate     json.RawMessage `json:"rate,omitempty"`      // requests per second
	Burst    json.RawMessage `json:"burst,omitempty"`
	Quota    json.RawMessage `json:"quota,omitempty"` // requests per UTC month
	Owner    json.RawMessage `json:"owner,omitempty"`
	Note     json.RawMessage `json:"note,omitempty"`
}

// RequestFromUpdate writes a model.KeyUpdate as a KeyRequest (the client
// side): nil fields are left out, cleared ones sent as null.
func RequestFromUpdate(u model.KeyUpdate) KeyRequest {
	var r KeyRequest
	raw := func(v any) json.RawMessage {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err) // strings, numbers and times always marshal
		}
		return b
	}
	null := json.RawMessage("null")
	if u.Name != nil {
		r.Name = raw(*u.Name)
	}
	if u.Kind != nil {
		r.Kind = raw(*u.Kind)
	}
	if u.Expires != nil {
		if r.Expires = null; !u.Expires.IsZero() {
			r.Expires = raw(u.Expires.UTC().Format(time.RFC3339Nano))
		}
	}
	if u.AllowIPs != nil {
		ips := make([]string, len(*u.AllowIPs))
		for i, p := range *u.AllowIPs {
			ips[i] = p.String()
		}
		r.AllowIPs = raw(ips)
	}
	if u.Rate != nil {
		r.Rate = raw(*u.Rate)
	}
	if u.Burst != nil {
		r.Burst = raw(*u.Burst)
	}
	if u.Quota != nil {
		r.Quota = raw(*u.Quota)
	}
	if u.Owner != nil {
		r.Owner = raw(*u.Owner)
	}
	if u.Note != nil {
		r.Note = raw(*u.Note)
	}
	return r
}

// RequestFromPolicy writes a new key's name and policy as a KeyRequest,
// leaving out the fields the policy does not set.
func RequestFromPolicy(name string, p model.Policy) KeyRequest {
	u := model.KeyUpdate{Name: &name}
	if p.Kind != "" {
		u.Kind = &p.Kind
	}
	if !p.Expires.IsZero() {
		u.Expires = &p.Expires
	}
	if len(p.AllowIPs) > 0 {
		u.AllowIPs = &p.AllowIPs
	}
	if p.Rate != 0 {
		u.Rate = &p.Rate
	}
	if p.Burst != 0 {
		u.Burst = &p.Burst
	}
	if p.Quota != 0 {
		u.Quota = &p.Quota
	}
	if p.Owner != "" {
		u.Owner = &p.Owner
	}
	if p.Note != "" {
		u.Note = &p.Note
	}
	return RequestFromUpdate(u)
}

// Update reads the request as a model.KeyUpdate. A field of the wrong JSON
// type is a *TypeError (the server answers 400); a value the model refuses
// (a bad kind, time or address) is a *model.FieldError naming the field,
// wrapped with store.ErrInvalid (422). Other values are checked by
// KeyUpdate.Apply.
func (r KeyRequest) Update() (model.KeyUpdate, error) {
	var u model.KeyUpdate
	var err error
	if u.Name, err = field[string](r.Name, "name", "a string", false); err != nil {
		return u, err
	}
	if u.Kind, err = field[model.Kind](r.Kind, "kind", `"browser", "server" or "mobile"`, true); err != nil {
		return u, err
	}
	if u.Kind != nil {
		k, perr := model.ParseKind(string(*u.Kind))
		if perr != nil {
			return u, invalidField("kind", perr)
		}
		u.Kind = &k
	}
	var exp *string
	if exp, err = field[string](r.Expires, "expires", "an RFC 3339 time such as 2026-01-02T15:04:05Z", true); err != nil {
		return u, err
	}
	if exp != nil {
		var t time.Time
		if *exp != "" {
			if t, err = time.Parse(time.RFC3339Nano, *exp); err != nil {
				return u, invalidField("expires", errors.New("must be an RFC 3339 time such as 2026-01-02T15:04:05Z, or null for no expiry"))
			}
		}
		u.Expires = &t
	}
	var ips *[]string
	if ips, err = field[[]string](r.AllowIPs, "allow_ips", "a list of addresses and CIDR ranges", true); err != nil {
		return u, err
	}
	if ips != nil {
		ps, perr := model.ParseAllowIPs(*ips)
		if perr != nil {
			return u, invalidField("allow_ips", perr)
		}
		u.AllowIPs = &ps
	}
	if u.Rate, err = field[float64](r.Rate, "rate", "a number of requests per second", true); err != nil {
		return u, err
	}
	if u.Burst, err = field[uint32](r.Burst, "burst", "a whole number of requests", true); err != nil {
		return u, err
	}
	if u.Quota, err = field[uint64](r.Quota, "quota", "a whole number of requests per month", true); err != nil {
		return u, err
	}
	if u.Owner, err = field[string](r.Owner, "owner", "a string", true); err != nil {
		return u, err
	}
	if u.Note, err = field[string](r.Note, "note", "a string", true); err != nil {
		return u, err
	}
	return u, nil
}

// field decodes one raw field: nil when absent, a pointer to the zero value
// for null (when nullable), else the value.
func field[T any](raw json.RawMessage, name, want string, nullable bool) (*T, error) {
	if raw == nil {
		return nil, nil
	}
	v := new(T)
	if string(raw) == "null" {
		if !nullable {
			return nil, &TypeError{Field: name, Want: want + " (not null)"}
		}
		return v, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, &TypeError{Field: name, Want: want}
	}
	return v, nil
}

// TypeError is a request field of the wrong JSON type.
type TypeError struct {
	Field, Want string
}

func (e *TypeError) Error() string { return "field \"" + e.Field + "\" must be " + e.Want }

func invalidField(name string, err error) error {
	return &fieldInvalid{&model.FieldError{Field: name, Err: err}}
}

// fieldInvalid is a *model.FieldError that is also store.ErrInvalid.
type fieldInvalid struct{ fe *model.FieldError }

func (e *fieldInvalid) Error() string   { return e.fe.Error() }
func (e *fieldInvalid) Unwrap() []error { return []error{store.ErrInvalid, e.fe} }

// RotateRequest is the optional body of POST /v1/keys/{id}/rotate.
type RotateRequest struct {
	// ExpireOldIn is the old key's grace period, a Go duration such as
	// "24h" or "90m": the old key expires that long after the rotation.
	ExpireOldIn string `json:"expire_old_in,omitempty"`
}

// RevokeRequest is the body of POST /v1/keys/{id}/revoke: the key's exact
// name, typed as confirmation.
type RevokeRequest struct {
	Confirm string `json:"confirm"`
}

// DomainsRequest is the body of the link and unlink routes.
type DomainsRequest struct {
	Domains []string `json:"domains"`
}

// DigestRequest is the body of POST /v1/keys/by-digest.
type DigestRequest struct {
	Digest string `json:"digest"`
}

// UsageRequest is the body of POST /v1/usage.
type UsageRequest struct {
	Deltas []store.UsageDelta `json:"deltas"`
}

// Alert is an alert as GET /v1/alerts sends it: the webhook's fields and
// the state of its deliveries.
type Alert struct {
	model.Alert
	Deliveries []model.Delivery `json:"deliveries"`
}

// FromAlert converts a model alert to its wire form.
func FromAlert(a model.Alert) Alert {
	d := append([]model.Delivery{}, a.Deliveries...)
	return Alert{Alert: a.Clone(), Deliveries: d}
}

// ToAlert converts a wire alert back to the model's.
func (a Alert) ToAlert() model.Alert {
	out := a.Alert.Clone()
	out.Deliveries = append([]model.Delivery(nil), a.Deliveries...)
	return out
}

// LeakItem is one token of a leak report (POST /v1/leaks), in the format
// of GitHub's secret scanning partner program.
type LeakItem struct {
	Token  string `json:"token"`
	Type   string `json:"type"`
	URL    string `json:"url"`
	Source string `json:"source"`
}

// TokenRequest is the body of POST /v1/tokens; Role "" means admin.
type TokenRequest struct {
	Name string     `json:"name"`
	Role model.Role `json:"role,omitempty"`
}

// RoleRequest is the body of POST /v1/tokens/{name}/role.
type RoleRequest struct {
	Role model.Role `json:"role"`
}

// WhoAmI answers GET /v1/whoami: the caller's token and role.
type WhoAmI struct {
	Token string     `json:"token"`
	Role  model.Role `json:"role"`
}

// TokenWithSecret answers POST /v1/tokens.
type TokenWithSecret struct {
	Token  store.Token `json:"token"`
	Secret string      `json:"secret"`
}

// DomainProblem is a *model.DomainError on the wire.
type DomainProblem struct {
	Input   string `json:"input"`
	Problem string `json:"problem"`
	Fix     string `json:"fix,omitempty"`
}

// Error is every error body: {"error":"…"} plus a machine code and, where it
// helps the client, the details of the error.
type Error struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"`
	// Domain is the existing domain, with code "domain_exists".
	Domain *model.Domain `json:"domain,omitempty"`
	// DomainProblem explains an invalid domain, with code "invalid_domain".
	DomainProblem *DomainProblem `json:"domain_problem,omitempty"`
	// Field names the request field at fault (a *model.FieldError), e.g.
	// "allow_ips".
	Field string `json:"field,omitempty"`
}

// NextCursorHeader carries the cursor of the next page of a paged list
// (GET /v1/keys/{id}/refused-hosts); it is absent on the last page.
const NextCursorHeader = "X-Next-Cursor"

// MsgStoreUnavailable is the error message of every answer to a change or
// a read the store could not make (no quorum in an etcd cluster).
const MsgStoreUnavailable = "store unavailable"

// Codes of errors that are not store or model sentinels.
const (
	CodeBadRequest   = "bad_request"
	CodeUnauthorized = "unauthorized"
	CodeTooLarge     = "too_large"
	CodeInternal     = "internal"
	CodeInvalidDom   = "invalid_domain"
	// CodeNotApplied: a change is saved but the node's gate has not
	// applied it within the server's time limit (503).
	CodeNotApplied = "not_applied"
)

type entry struct {
	code   string
	status int
	err    error
}

// table maps sentinels to codes, most specific first.
var table = [...]entry{
	{"key_not_found", http.StatusNotFound, store.ErrKeyNotFound},
	{"domain_not_found", http.StatusNotFound, store.ErrDomainNotFound},
	{"token_not_found", http.StatusNotFound, store.ErrTokenNotFound},
	{"not_found", http.StatusNotFound, store.ErrNotFound},
	{"domain_exists", http.StatusConflict, store.ErrDomainExists},
	{"token_exists", http.StatusConflict, store.ErrTokenExists},
	{"key_revoked", http.StatusConflict, model.ErrKeyRevoked},
	{"already_active", http.StatusConflict, model.ErrAlreadyActive},
	{"already_disabled", http.StatusConflict, model.ErrAlreadyDisabled},
	{"confirm_mismatch", http.StatusConflict, model.ErrConfirmMismatch},
	{"forbidden", http.StatusForbidden, model.ErrForbidden},
	{"name_empty", http.StatusUnprocessableEntity, model.ErrNameEmpty},
	{"name_too_long", http.StatusUnprocessableEntity, model.ErrNameTooLong},
	{"name_control", http.StatusUnprocessableEntity, model.ErrNameControl},
	{"name_key_ref", http.StatusUnprocessableEntity, model.ErrNameKeyRef},
	{"invalid", http.StatusUnprocessableEntity, store.ErrInvalid},
	{"no_alerts", http.StatusNotImplemented, store.ErrNoAlerts},
	{"closed", http.StatusServiceUnavailable, store.ErrClosed},
	{"unavailable", http.StatusServiceUnavailable, store.ErrUnavailable},
	{"in_use", http.StatusServiceUnavailable, store.ErrInUse},
}

// Classify returns the HTTP status and the error body for err. Errors it does
// not know become 500 with a generic message, so internals never leak. A
// *model.DomainError travels in DomainProblem; it decides the code only when
// no not-found or conflict sentinel does (a lookup of a name that cannot
// exist is "not found", with the reason).
func Classify(err error) (int, Error) {
	var problem *DomainProblem
	var de *model.DomainError
	if errors.As(err, &de) {
		problem = &DomainProblem{Input: de.Input, Problem: de.Problem, Fix: de.Fix}
	}
	var fieldName string
	var fe *model.FieldError
	if errors.As(err, &fe) {
		fieldName = fe.Field
	}
	if errors.Is(err, store.ErrUnavailable) {
		// SPEC.md: {"error":"store unavailable"}; the cause (no quorum, a
		// member's address) is for the server's log, not the client.
		return http.StatusServiceUnavailable, Error{Error: MsgStoreUnavailable, Code: "unavailable"}
	}
	for _, e := range table {
		if errors.Is(err, e.err) {
			if problem != nil && e.status == http.StatusUnprocessableEntity {
				break
			}
			return e.status, Error{Error: err.Error(), Code: e.code, DomainProblem: problem, Field: fieldName}
		}
	}
	if problem != nil {
		return http.StatusUnprocessableEntity, Error{Error: err.Error(), Code: CodeInvalidDom, DomainProblem: problem}
	}
	return http.StatusInternalServerError, Error{Error: "internal error (see the server log)", Code: CodeInternal}
}

// APIError is an error answered by the API, rebuilt on the client side. It
// matches (errors.Is / errors.As) the sentinels its code stands for.
type APIError struct {
	Status int
	Body   Error
	errs   []error
}

func (e *APIError) Error() string { return e.Body.Error }

// Unwrap returns the sentinels the error stands for.
func (e *APIError) Unwrap() []error { return e.errs }

// Decode rebuilds the error of an API answer with this status and body.
func Decode(status int, body Error) *APIError {
	e := &APIError{Status: status, Body: body}
	if body.Error == "" {
		e.Body.Error = http.StatusText(status)
	}
	var de error
	if p := body.DomainProblem; p != nil {
		de = &model.DomainError{Input: p.Input, Problem: p.Problem, Fix: p.Fix}
	}
	if body.Field != "" && de == nil {
		msg := strings.TrimPrefix(e.Body.Error, body.Field+": ")
		de = &model.FieldError{Field: body.Field, Err: errors.New(msg)}
	}
	if body.Code == CodeInvalidDom {
		if de == nil {
			de = &model.DomainError{Problem: body.Error}
		}
		e.errs = []error{store.ErrInvalid, de}
		return e
	}
	for _, t := range table {
		if t.code == body.Code {
			e.errs = append(e.errs, t.err)
			if t.status == http.StatusUnprocessableEntity && t.err != store.ErrInvalid {
				e.errs = append(e.errs, store.ErrInvalid)
			}
			if de != nil {
				e.errs = append(e.errs, de)
			}
			return e
		}
	}
	switch status {
	case http.StatusNotFound:
		e.errs = []error{store.ErrNotFound}
	case http.StatusUnprocessableEntity:
		e.errs = []error{store.ErrInvalid}
	}
	return e
}
