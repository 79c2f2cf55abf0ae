package store

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
)

// Paging of refused hosts (GET /v1/keys/{id}/refused-hosts).
const (
	DefaultRefusedPage = 100
	MaxRefusedPage     = 1000
)

// ErrBadCursor is returned for a cursor PageRefusedHosts did not make.
var ErrBadCursor = fmt.Errorf("%w: the cursor is not one this server gave: start again without it", ErrInvalid)

// PageRefusedHosts returns at most limit entries of hosts (in RefusedBefore
// order, as RefusedHosts returns them) that come after cursor ("" for the
// first page), and the cursor of the next page ("" after the last). A
// cursor names the last entry of its page, so entries that change counts
// between two pages may be seen twice or missed, never crash the paging.
func PageRefusedHosts(hosts []RefusedHost, limit int, cursor string) ([]RefusedHost, string, error) {
	if limit <= 0 {
		limit = DefaultRefusedPage
	}
	limit = min(limit, MaxRefusedPage)
	start := 0
	if cursor != "" {
		after, err := decodeCursor(cursor)
		if err != nil {
			return nil, "", ErrBadCursor
		}
		for start < len(hosts) && !RefusedBefore(after, hosts[start]) {
			start++
		}
	}
	end := min(start+limit, len(hosts))
	page := hosts[start:end]
	if end == len(hosts) || len(page) == 0 {
		return page, "", nil
	}
	return page, encodeCursor(page[len(page)-1]), nil
}

func encodeCursor(h RefusedHost) string {
	b := binary.BigEndian.AppendUint64(nil, h.Count)
	if h.Other {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return base64.RawURLEncoding.EncodeToString(append(b, h.Host...))
}

func decodeCursor(s string) (RefusedHost, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 9 || b[8] > 1 {
		return RefusedHost{}, errors.New("bad cursor")
	}
	h := RefusedHost{Count: binary.BigEndian.Uint64(b), Other: b[8] == 1, Host: string(b[9:])}
	if UsageHost(h.Host) != nil && !(h.Other && h.Host == "") {
		return RefusedHost{}, errors.New("bad cursor")
	}
	return h, nil
}
