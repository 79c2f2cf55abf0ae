// Package wire holds the JSON shapes of the management API and the table
// that maps store and model errors to HTTP statuses and machine codes. The
// server (package server) and the client (package store/remote) share it, so
// an error crosses the wire and comes back as the same sentinel.
package wire

import (
	"errors"
	"net/http"

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
}

// Codes of errors that are not store or model sentinels.
const (
	CodeBadRequest   = "bad_request"
	CodeUnauthorized = "unauthorized"
	CodeTooLarge     = "too_large"
	CodeInternal     = "internal"
	CodeInvalidDom   = "invalid_domain"
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
	{"name_empty", http.StatusUnprocessableEntity, model.ErrNameEmpty},
	{"name_too_long", http.StatusUnprocessableEntity, model.ErrNameTooLong},
	{"name_control", http.StatusUnprocessableEntity, model.ErrNameControl},
	{"name_key_ref", http.StatusUnprocessableEntity, model.ErrNameKeyRef},
	{"invalid", http.StatusUnprocessableEntity, store.ErrInvalid},
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
	for _, e := range table {
		if errors.Is(err, e.err) {
			if problem != nil && e.status == http.StatusUnprocessableEntity {
				break
			}
			return e.status, Error{Error: err.Error(), Code: e.code, DomainProblem: problem}
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
