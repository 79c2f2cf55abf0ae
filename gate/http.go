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
)

// AuthorizeHandler serves /v1/authorize for a reverse proxy's auth_request.
// The api_key values come from the query of the X-Original-URI header (or,
// without that header, from the request's own query); Origin, Referer and
// X-Forwarded-Proto are read from the request as the proxy passed them. It
// answers 204 when allowed, and 401 or 403 with the JSON error body and the
// same body in the X-Tmaps-Error header otherwise. It accepts any method:
// nginx sends the subrequest with the client's method unless told otherwise.
func (g *Gate) AuthorizeHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
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
			writeRefusal(w, d, body)
		}
		g.met.observe(time.Since(start))
	})
}

// Middleware protects a Go service: each request is decided with the
// api_key of its own query and its Origin and Referer headers; a refused
// request gets 401 or 403 with the JSON error body, an allowed one goes to
// next.
func (g *Gate) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
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

func writeRefusal(w http.ResponseWriter, d model.Decision, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	h["X-Content-Type-Options"] = nosniff
	status := d.Status
	if status != http.StatusUnauthorized && status != http.StatusForbidden {
		status = http.StatusForbidden // never let an unexpected decision through
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
