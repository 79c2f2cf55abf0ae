package model

// Decide applies SPEC.md's steps 1–9 to one request. It is pure, does not
// allocate, and never panics.
func Decide(in GateInput) Decision {
	// TODO(model helper): implement steps 1–9.
	return Decision{}
}

// HeaderHost extracts the host of an Origin or Referer header value, per
// SPEC.md's host-matching rules: parse as an absolute URL, take the host
// (never the userinfo), drop the port, lowercase ASCII, drop one trailing
// dot. ok is false when the value does not parse as an absolute URL with a
// host. It does not allocate when the host is already lowercase.
func HeaderHost(h string) (host string, ok bool) {
	// TODO(model helper)
	return "", false
}

// Body returns the JSON error body for a refused decision, e.g.
// {"error":"domain not authorized"}, or nil when allowed. It does not allocate.
func (d Decision) Body() []byte {
	// TODO(model helper)
	return nil
}
