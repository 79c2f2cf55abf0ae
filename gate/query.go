package gate

import (
	"net/url"
	"strings"
)

// apiKeys appends the values of every api_key parameter of a raw query
// string to dst, in order, and returns it. It follows url.ParseQuery's
// reading of names and values (pairs split on '&', '+' is a space,
// percent-escapes decoded) but allocates only when a name or a value is
// escaped, or when dst is full.
//
// A value with a broken escape is kept as it was sent: it was given (so it
// is not "missing") and it is not a valid secret.
func apiKeys(q string, dst []string) []string {
	for len(q) > 0 {
		seg := q
		if i := strings.IndexByte(q, '&'); i >= 0 {
			seg, q = q[:i], q[i+1:]
		} else {
			q = ""
		}
		var value string
		switch {
		case len(seg) >= 7 && seg[:7] == "api_key" && (len(seg) == 7 || seg[7] == '='):
			if len(seg) > 7 {
				value = seg[8:]
			}
		case strings.IndexByte(seg, '%') >= 0:
			// Perhaps an escaped spelling of api_key: 9 to 21 bytes.
			name, v, _ := strings.Cut(seg, "=")
			if len(name) < 9 || len(name) > 21 {
				continue
			}
			if n, err := url.QueryUnescape(name); err != nil || n != "api_key" {
				continue
			}
			value = v
		default:
			continue
		}
		if escaped(value) {
			if v, err := url.QueryUnescape(value); err == nil {
				value = v
			}
		}
		dst = append(dst, value)
	}
	return dst
}

func escaped(s string) bool {
	return strings.IndexByte(s, '%') >= 0 || strings.IndexByte(s, '+') >= 0
}

// uriQuery returns the raw query of a request URI such as
// "/tiles/1/2/3.png?api_key=…#frag", or "" when it has none.
func uriQuery(uri string) string {
	if j := strings.IndexByte(uri, '#'); j >= 0 {
		uri = uri[:j]
	}
	i := strings.IndexByte(uri, '?')
	if i < 0 {
		return ""
	}
	return uri[i+1:]
}
