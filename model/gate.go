package model

import (
	"net/netip"
	"time"
)

// Reason says which rule of the gate decided (SPEC.md, steps 1–10).
type Reason uint8

// The gate's reasons, one per rule outcome.
const (
	ReasonNone                Reason = iota
	ReasonHTTPSRequired              // step 1: plain HTTP
	ReasonMissingKey                 // step 2: api_key absent or empty
	ReasonDuplicateKey               // step 2: api_key given more than once
	ReasonMalformedKey               // step 3: not ^ak_[0-9a-f]{32}$
	ReasonUnknownKey                 // step 3: well-formed but not in the store
	ReasonDisabled                   // step 4
	ReasonRevoked                    // step 4
	ReasonUnrestricted               // step 5: key has no linked domain → allowed
	ReasonNoHeaders                  // step 6: neither Origin nor Referer → allowed
	ReasonOriginMatched              // step 7 → allowed
	ReasonRefererMatched             // step 8 → allowed
	ReasonDomainNotAuthorized        // step 9 → 403
	ReasonExpired                    // step 4a → 401
	ReasonIPNotAllowed               // step 4b → 403
	ReasonRateLimited                // step 10 → 429
	ReasonQuotaExceeded              // step 10 → 429
)

var reasonNames = [...]string{
	ReasonNone:                "none",
	ReasonHTTPSRequired:       "https_required",
	ReasonMissingKey:          "missing_api_key",
	ReasonDuplicateKey:        "duplicate_api_key",
	ReasonMalformedKey:        "malformed_api_key",
	ReasonUnknownKey:          "unknown_api_key",
	ReasonDisabled:            "key_disabled",
	ReasonRevoked:             "key_revoked",
	ReasonUnrestricted:        "key_unrestricted",
	ReasonNoHeaders:           "no_origin_or_referer",
	ReasonOriginMatched:       "origin_matched",
	ReasonRefererMatched:      "referer_matched",
	ReasonDomainNotAuthorized: "domain_not_authorized",
	ReasonExpired:             "key_expired",
	ReasonIPNotAllowed:        "ip_not_authorized",
	ReasonRateLimited:         "rate_limited",
	ReasonQuotaExceeded:       "quota_exceeded",
}

// NumReasons is one more than the largest Reason.
const NumReasons = len(reasonNames)

// String returns the machine-readable name of the reason, e.g. "origin_matched".
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// Explain returns a sentence a person understands, e.g. for `tmaps check`.
func (r Reason) Explain() string {
	switch r {
	case ReasonHTTPSRequired:
		return "step 1: the request is plain HTTP; the API requires HTTPS"
	case ReasonMissingKey:
		return "step 2: no api_key query parameter (or an empty one)"
	case ReasonDuplicateKey:
		return "step 2: api_key is given more than once"
	case ReasonMalformedKey:
		return "step 3: api_key is not of the form ak_ followed by 32 lowercase hex characters"
	case ReasonUnknownKey:
		return "step 3: no key with this secret exists in the store"
	case ReasonDisabled:
		return "step 4: the key is disabled (enable it to allow requests again)"
	case ReasonRevoked:
		return "step 4: the key is revoked, permanently"
	case ReasonUnrestricted:
		return "step 5: the key has no linked domain, so it is unrestricted"
	case ReasonNoHeaders:
		return "step 6: neither Origin nor Referer is sent (server-to-server call), so the domain list is ignored"
	case ReasonOriginMatched:
		return "step 7: the Origin's host is one of the key's domains"
	case ReasonRefererMatched:
		return "step 8: the Referer's host is one of the key's domains"
	case ReasonDomainNotAuthorized:
		return "step 9: neither the Origin's nor the Referer's host is one of the key's domains"
	case ReasonExpired:
		return "step 4a: the key has expired (extend or clear its expiry to allow requests again)"
	case ReasonIPNotAllowed:
		return "step 4b: the client address is in none of the key's IP allowlist entries"
	case ReasonRateLimited:
		return "step 10: the key's rate limit on this gate node is exhausted; retry after Retry-After seconds"
	case ReasonQuotaExceeded:
		return "step 10: the key's monthly quota is used up until the next UTC month"
	}
	return "no decision"
}

// Error messages of the gate, exactly as SPEC.md pins them.
const (
	ErrMsgHTTPSRequired = "https required"
	ErrMsgMissingKey    = "missing api_key"
	ErrMsgInvalidKey    = "invalid api_key"
	ErrMsgDisabled      = "api_key disabled"
	ErrMsgRevoked       = "api_key revoked"
	ErrMsgDomain        = "domain not authorized"
	ErrMsgExpired       = "api_key expired"
	ErrMsgIP            = "ip not authorized"
	ErrMsgRateLimited   = "rate limit exceeded"
	ErrMsgQuota         = "quota exceeded"
)

// GateInput is everything the gate's decision depends on for one request.
type GateInput struct {
	// Key is the key whose digest matches the single well-formed api_key
	// value, or nil when there is none (unknown, or not looked up).
	Key *Key
	// APIKeys are the raw values of the api_key query parameter, in order.
	APIKeys []string
	// Origin and Referer are the raw header values; "" means absent.
	Origin, Referer string
	// HTTPS is true when the request arrived over TLS (or through a trusted
	// proxy that says so), or when the server allows plain HTTP.
	HTTPS bool
	// Now is the time of the request: expiry (step 4a), the rate limit and
	// the quota's month (step 10) read it.
	Now time.Time
	// ClientIP is the client's address (the connection's peer, or X-Real-IP
	// from a trusted proxy); the zero Addr when unknown, which no IP
	// allowlist contains. Only keys with an allowlist read it.
	ClientIP netip.Addr
	// Bucket is the key's token bucket on this gate node. Nil skips the
	// rate limit (tmaps check and the console's tester cannot see a node's
	// bucket: their answer says so).
	Bucket *TokenBucket
	// QuotaUsed is the key's allowed requests this UTC month before this
	// one: flushed usage of every node plus this node's unflushed counts.
	QuotaUsed uint64
}

// Decision is the gate's answer for one request.
type Decision struct {
	Status int    // 200, 401, 403 or 429
	Error  string // "" when allowed; otherwise the message of the error body
	Reason Reason
	// Host is the header host that decided: the matched host when allowed
	// by step 7/8, the refused host (Origin's, else Referer's) at step 9;
	// for an unrestricted key (step 5), the host a browser sent (Origin's,
	// else Referer's), so usage can tell which keys browsers use.
	// It is a substring of the header, lowercased only if it already was.
	Host string
	// RetryAfter is the Retry-After of a 429, in whole seconds (at least 1).
	RetryAfter uint32
}

// Allowed reports whether the request may pass.
func (d Decision) Allowed() bool { return d.Status == 200 }
