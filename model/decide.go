package model

import (
	"encoding/json"
	"net/netip"
	"strings"
)

// Decide applies SPEC.md's steps 1–10 to one request. It does not allocate
// and never panics; its only effect is to spend a token of in.Bucket.
//
//  1. !in.HTTPS → 403 "https required".
//  2. No api_key value, or one empty value → 401 "missing api_key"; more than
//     one value (even empty ones) → 401 "invalid api_key" (ReasonDuplicateKey).
//  3. A value that is not ^ak_[0-9a-f]{32}$ → 401 "invalid api_key"
//     (ReasonMalformedKey); a well-formed one with in.Key == nil → 401
//     "invalid api_key" (ReasonUnknownKey). Decide trusts the caller that
//     in.Key is the key whose digest matches the value.
//  4. Disabled → 401 "api_key disabled"; revoked → 401 "api_key revoked". A
//     status that is none of the three fails closed as disabled.
//     4a. Expires set and not after in.Now → 401 "api_key expired".
//     4b. AllowIPs set and in.ClientIP in none of them → 403 "ip not
//     authorized", with or without Origin and Referer.
//  5. No linked domain → allowed (ReasonUnrestricted).
//  6. Origin and Referer both absent ("" or only spaces and tabs) → allowed
//     (ReasonNoHeaders).
//  7. Origin's host (see HeaderHost) is one of in.Key.Domains → allowed.
//  8. Else Referer's host is one of them → allowed.
//  9. Else 403 "domain not authorized"; Decision.Host is the Origin's host if
//     the Origin parsed, else the Referer's if it parsed, else "".
//  10. Only for a request steps 5–8 allow: a rate limit with in.Bucket
//     non-nil and no token left → 429 "rate limit exceeded"; then a quota
//     with in.QuotaUsed ≥ Quota → 429 "quota exceeded". RetryAfter is the
//     wait for a token, or until the next UTC month, in whole seconds.
//
// Hosts are compared with MatchHost: exact equality after ASCII lowercasing,
// or, for IPv6 literals, equality of the addresses.
func Decide(in GateInput) Decision { return DecideInput(&in) }

// DecideInput is Decide on an input the caller keeps: the gate's hot path
// passes its input without copying it.
func DecideInput(in *GateInput) Decision {
	if !in.HTTPS {
		return Decision{Status: 403, Error: ErrMsgHTTPSRequired, Reason: ReasonHTTPSRequired}
	}
	switch {
	case len(in.APIKeys) == 0, len(in.APIKeys) == 1 && in.APIKeys[0] == "":
		return Decision{Status: 401, Error: ErrMsgMissingKey, Reason: ReasonMissingKey}
	case len(in.APIKeys) > 1:
		return Decision{Status: 401, Error: ErrMsgInvalidKey, Reason: ReasonDuplicateKey}
	}
	if !ValidSecret(in.APIKeys[0]) {
		return Decision{Status: 401, Error: ErrMsgInvalidKey, Reason: ReasonMalformedKey}
	}
	k := in.Key
	if k == nil {
		return Decision{Status: 401, Error: ErrMsgInvalidKey, Reason: ReasonUnknownKey}
	}
	switch k.Status {
	case Active:
	case Revoked:
		return Decision{Status: 401, Error: ErrMsgRevoked, Reason: ReasonRevoked}
	default: // Disabled, or an unknown status: fail closed
		return Decision{Status: 401, Error: ErrMsgDisabled, Reason: ReasonDisabled}
	}
	if !k.Expires.IsZero() && !in.Now.Before(k.Expires) {
		return Decision{Status: 401, Error: ErrMsgExpired, Reason: ReasonExpired}
	}
	if len(k.AllowIPs) > 0 && !IPAllowed(in.ClientIP, k.AllowIPs) {
		return Decision{Status: 403, Error: ErrMsgIP, Reason: ReasonIPNotAllowed}
	}
	origin, referer := trimOWS(in.Origin), trimOWS(in.Referer)
	if len(k.Domains) == 0 {
		d := Decision{Status: 200, Reason: ReasonUnrestricted}
		// the host a browser sent: usage tells the keys browsers use
		if h, ok := hostSpan(origin); ok && origin != "" {
			d.Host = h
		} else if h, ok := hostSpan(referer); ok && referer != "" {
			d.Host = h
		}
		return limit(k, in, d)
	}
	if origin == "" && referer == "" {
		return limit(k, in, Decision{Status: 200, Reason: ReasonNoHeaders})
	}
	var oh, rh string
	var ook, rok bool
	if origin != "" {
		if oh, ook = hostSpan(origin); ook && matchAny(oh, k.Domains) {
			return limit(k, in, Decision{Status: 200, Reason: ReasonOriginMatched, Host: oh})
		}
	}
	if referer != "" {
		if rh, rok = hostSpan(referer); rok && matchAny(rh, k.Domains) {
			return limit(k, in, Decision{Status: 200, Reason: ReasonRefererMatched, Host: rh})
		}
	}
	d := Decision{Status: 403, Error: ErrMsgDomain, Reason: ReasonDomainNotAuthorized}
	switch {
	case ook:
		d.Host = oh
	case rok:
		d.Host = rh
	}
	return d
}

// limit applies step 10 to a request that steps 5–8 allowed (d). A key
// without a rate limit or a quota returns d at the cost of two compares
// (inlined: the hot path makes no call).
func limit(k *Key, in *GateInput, d Decision) Decision {
	if k.Rate == 0 && k.Quota == 0 {
		return d
	}
	return limitPolicy(k, in, d)
}

// limitPolicy is limit for a key with a rate limit or a quota.
func limitPolicy(k *Key, in *GateInput, d Decision) Decision {
	if k.Rate > 0 && in.Bucket != nil {
		if ok, wait := in.Bucket.Take(in.Now.UnixNano(), k.Rate, k.Burst); !ok {
			return Decision{Status: 429, Error: ErrMsgRateLimited, Reason: ReasonRateLimited, RetryAfter: RetrySeconds(wait)}
		}
	}
	if k.Quota > 0 && in.QuotaUsed >= k.Quota {
		return Decision{Status: 429, Error: ErrMsgQuota, Reason: ReasonQuotaExceeded,
			RetryAfter: RetrySeconds(NextMonthStart(in.Now).Sub(in.Now))}
	}
	return d
}

// HeaderHost extracts the host of an Origin or Referer header value, per
// SPEC.md's host-matching rules: parse as an absolute URL, take the host
// (never the userinfo), drop the port, lowercase ASCII, drop one trailing
// dot. ok is false when the value does not parse as an absolute URL with a
// host. It does not allocate when the host is already lowercase.
//
// The rules, strictly:
//   - Leading and trailing spaces and tabs are ignored; any other space or
//     control character anywhere makes the value invalid.
//   - It must start with a scheme (a letter, then letters, digits, + - .)
//     followed by "://". "null", "mysite.tn" and "//mysite.tn" are invalid.
//   - The authority ends at the first '/', '?' or '#'; a '\', '%' or non-ASCII
//     byte in it makes the value invalid (no percent-decoding, no IDNA, no
//     Unicode folding: a fullwidth or Cyrillic host never matches).
//   - The host follows the LAST '@' of the authority: userinfo never counts.
//   - The port, if any, must be decimal digits (possibly empty) and is dropped.
//   - An IPv6 host is returned without its brackets ("[::1]:8080" → "::1"),
//     not canonicalised: compare it with MatchHost.
//   - Other hosts may hold only letters, digits, '-', '.' and '_'; one
//     trailing dot is dropped; an empty host is invalid.
//
// Only ASCII letters are lowercased.
func HeaderHost(h string) (host string, ok bool) {
	host, ok = hostSpan(h)
	if !ok {
		return "", false
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(host), true // ASCII only: hostSpan checked
		}
	}
	return host, true
}

// MatchHost reports whether a host taken from a header (by HeaderHost)
// names the stored domain: ASCII case-insensitive equality, or, when both
// are IPv6 literals, equality of the addresses (so a stored "::1" matches
// "0:0:0:0:0:0:0:1"). There is no suffix, prefix or Unicode matching. It does
// not allocate.
func MatchHost(host, domain string) bool {
	if EqualFoldASCII(host, domain) {
		return true
	}
	if strings.IndexByte(host, ':') < 0 || strings.IndexByte(domain, ':') < 0 {
		return false
	}
	// A copy, so that host (often a slice of a request header) does not
	// escape through ParseAddr and every caller's input stays on its stack.
	a, err := netip.ParseAddr(strings.Clone(host))
	if err != nil || a.Zone() != "" {
		return false
	}
	b, err := netip.ParseAddr(strings.Clone(domain))
	return err == nil && a == b
}

func matchAny(host string, domains []string) bool {
	for _, d := range domains {
		if EqualFoldASCII(host, d) {
			return true
		}
	}
	if strings.IndexByte(host, ':') < 0 {
		return false
	}
	for _, d := range domains {
		if MatchHost(host, d) {
			return true
		}
	}
	return false
}

// EqualFoldASCII compares two strings, folding ASCII letters only (never
// Unicode: a Kelvin sign is not a k). It does not allocate.
func EqualFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// hostSpan is HeaderHost without lowercasing: the host is a substring of h.
func hostSpan(h string) (string, bool) {
	h = trimOWS(h)
	for i := 0; i < len(h); i++ {
		if c := h[i]; c <= ' ' || c == 0x7f {
			return "", false
		}
	}
	// Scheme.
	i := 0
	for ; i < len(h); i++ {
		c := h[i]
		if isLetter(c) || i > 0 && (isDigit(c) || c == '+' || c == '-' || c == '.') {
			continue
		}
		break
	}
	if i == 0 || !strings.HasPrefix(h[i:], "://") {
		return "", false
	}
	auth := h[i+3:]
	for j := 0; j < len(auth); j++ {
		if c := auth[j]; c == '/' || c == '?' || c == '#' {
			auth = auth[:j]
			break
		}
	}
	for j := 0; j < len(auth); j++ {
		if c := auth[j]; c >= 0x80 || c == '%' || c == '\\' {
			return "", false
		}
	}
	if at := strings.LastIndexByte(auth, '@'); at >= 0 {
		auth = auth[at+1:]
	}
	var host, port string
	if strings.HasPrefix(auth, "[") {
		end := strings.IndexByte(auth, ']')
		if end < 0 {
			return "", false
		}
		host, port = auth[1:end], auth[end+1:]
		if port != "" {
			if port[0] != ':' {
				return "", false
			}
			port = port[1:]
		}
		if !validIPv6Chars(host) {
			return "", false
		}
	} else {
		host = auth
		if c := strings.IndexByte(auth, ':'); c >= 0 {
			host, port = auth[:c], auth[c+1:]
		}
		if strings.HasSuffix(host, ".") {
			host = host[:len(host)-1]
		}
		if host == "" {
			return "", false
		}
		for j := 0; j < len(host); j++ {
			c := host[j]
			if !isLetter(c) && !isDigit(c) && c != '-' && c != '.' && c != '_' {
				return "", false
			}
		}
	}
	for j := 0; j < len(port); j++ {
		if !isDigit(port[j]) {
			return "", false
		}
	}
	return host, true
}

// validIPv6Chars accepts the characters of an IPv6 literal without a zone:
// hex digits, ':' (at least two) and '.' (embedded IPv4).
func validIPv6Chars(s string) bool {
	colons := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ':':
			colons++
		case isDigit(c), c >= 'a' && c <= 'f', c >= 'A' && c <= 'F', c == '.':
		default:
			return false
		}
	}
	return colons >= 2
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }

// The error bodies, built once. Body returns them with their capacity
// clipped, so an append by the caller copies instead of writing into them.
var (
	bodyHTTPS    = errorBody(ErrMsgHTTPSRequired)
	bodyMissing  = errorBody(ErrMsgMissingKey)
	bodyInvalid  = errorBody(ErrMsgInvalidKey)
	bodyDisabled = errorBody(ErrMsgDisabled)
	bodyRevoked  = errorBody(ErrMsgRevoked)
	bodyDomain   = errorBody(ErrMsgDomain)
	bodyExpired  = errorBody(ErrMsgExpired)
	bodyIP       = errorBody(ErrMsgIP)
	bodyRate     = errorBody(ErrMsgRateLimited)
	bodyQuota    = errorBody(ErrMsgQuota)
)

func errorBody(msg string) []byte {
	b, err := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	if err != nil {
		panic(err) // cannot happen for a string
	}
	return b
}

// Body returns the JSON error body for a refused decision, e.g.
// {"error":"domain not authorized"}, or nil when allowed. It does not allocate.
//
// The bodies of SPEC.md are shared: the caller must not modify the
// returned bytes. An Error message outside SPEC.md's (a Decision built by
// hand) gets a freshly marshalled body.
func (d Decision) Body() []byte {
	var b []byte
	switch d.Error {
	case "":
		return nil
	case ErrMsgHTTPSRequired:
		b = bodyHTTPS
	case ErrMsgMissingKey:
		b = bodyMissing
	case ErrMsgInvalidKey:
		b = bodyInvalid
	case ErrMsgDisabled:
		b = bodyDisabled
	case ErrMsgRevoked:
		b = bodyRevoked
	case ErrMsgDomain:
		b = bodyDomain
	case ErrMsgExpired:
		b = bodyExpired
	case ErrMsgIP:
		b = bodyIP
	case ErrMsgRateLimited:
		b = bodyRate
	case ErrMsgQuota:
		b = bodyQuota
	default:
		return errorBody(d.Error)
	}
	return b[:len(b):len(b)]
}
