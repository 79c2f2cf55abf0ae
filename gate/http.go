package gate

import (
	"net/http"
	"strconv"
	"time"

	"github.com/tmaps/console/model"
)

// Response headers of AuthorizeHandler.
const (
	// HeaderError carries the JSON error body of a refusal, e.g.
	// {"error":"api_key revoked"}, because nginx's auth_request keeps the
	// status of the subrequest but drops its body: the nginx configuration
	// copies it with auth_request_set and returns it (docs/nginx.md).
	HeaderError = "X-Tmaps-Error"
	// HeaderKeyID names the key of an allowed request (its opaque id, never
	// the secret), for the proxy's access log.
	HeaderKeyID = "X-Tmaps-Key-Id"
	// HeaderOriginalURI is where the proxy puts the original request URI.
	HeaderOriginalURI = "X-Original-URI"
	// HeaderStatus carries the status of a refusal (401, 403 or 429) on
	// AuthorizeHandler's answers: nginx's auth_request passes only 401 and
	// 403, so a 429 travels as a 403 with "X-Tmaps-Status: 429", which the
	// nginx configuration turns back into a 429 (docs/nginx.md).
	HeaderStatus = "X-Tmaps-Status"
)

// AuthorizeHandler serves /v1/authorize for a reverse proxy's auth_request.
// The api_key values come from the query of the X-Original-URI header (or,
// without that header, from the request's own query); Origin, Referer,
// X-Forwarded-Proto and X-Real-IP are read from the request as the proxy
// passed them. It answers 204 when allowed; otherwise 401 or 403 with the
// JSON error body, the same body in X-Tmaps-Error and the status in
// X-Tmaps-Status. A 429 (rate limit, quota) is answered as a 403 with
// X-Tmaps-Status: 429 and Retry-After, because auth_request treats any
// status but 2xx, 401 and 403 as an error. It accepts any method: nginx
// sends the subrequest with the client's method unless told otherwise.
func (g *Gate) AuthorizeHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if g.refuseStale(w) {
			return
		}
		q := r.URL.RawQuery
		if v := r.Header[canonicalOriginalURI]; len(v) > 0 {
			q = uriQuery(v[0])
		}
		d, e := g.decide(r, q)
		h := w.Header()
		h["Cache-Control"] = noStore
		if d.Allowed() {
			if e != nil {
				h[HeaderKeyID] = e.idHeader
			}
			w.WriteHeader(http.StatusNoContent)
		} else {
			body := d.Body()
			h[HeaderError] = []string{string(body)}
			h[HeaderStatus] = statusHeader(d.Status)
			if d.Status == http.StatusTooManyRequests {
				d.Status = http.StatusForbidden // carried by X-Tmaps-Status
			}
			writeRefusal(w, d, body)
		}
		g.met.observe(time.Since(start))
	})
}

// Middleware protects a Go service: each request is decided with the
// api_key of its own query, its Origin and Referer headers and its client
// address; a refused request gets 401, 403 or 429 (with Retry-After) and
// the JSON error body, an allowed one goes to next.
func (g *Gate) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if g.refuseStale(w) {
			return
		}
		d, _ := g.decide(r, r.URL.RawQuery)
		g.met.observe(time.Since(start))
		if !d.Allowed() {
			writeRefusal(w, d, d.Body())
			return
		}
		next.ServeHTTP(w, r)
	})
}

// canonicalOriginalURI is HeaderOriginalURI as net/http keys it.
const canonicalOriginalURI = "X-Original-Uri"

var (
	jsonType = []string{"application/json"}
	noStore  = []string{"no-store"}
	nosniff  = []string{"nosniff"}
)

var (
	status401 = []string{"401"}
	status403 = []string{"403"}
	status429 = []string{"429"}
)

func statusHeader(status int) []string {
	switch status {
	case http.StatusUnauthorized:
		return status401
	case http.StatusTooManyRequests:
		return status429
	}
	return status403
}

// retryAfter holds the Retry-After values of the first minute, made once.
var retryAfter = func() (v [61][]string) {
	for i := range v {
		v[i] = []string{strconv.Itoa(i)}
	}
	return v
}()

func writeRefusal(w http.ResponseWriter, d model.Decision, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	h["X-Content-Type-Options"] = nosniff
	if d.RetryAfter > 0 {
		if d.RetryAfter < uint32(len(retryAfter)) {
			h["Retry-After"] = retryAfter[d.RetryAfter]
		} else {
			h["Retry-After"] = []string{strconv.FormatUint(uint64(d.RetryAfter), 10)}
		}
	}
	status := d.Status
	if status != http.StatusUnauthorized && status != http.StatusForbidden && status != http.StatusTooManyRequests {
		status = http.StatusForbidden // never let an unexpected decision through
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
