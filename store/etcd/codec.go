package etcd

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tmaps/console/model"
)

var errCorrupt = errors.New("corrupt record in etcd")

// Field numbers of a key record, encoded in the protobuf wire format
// (without a schema compiler: protowire). A decoder skips fields it does not
// know, so a newer tmaps can add fields that an older node ignores.
const (
	fName          = 1
	fPrefix        = 2
	fDigest        = 3
	fStatus        = 4
	fCreated       = 5
	fStatusChanged = 6
	fReplaces      = 7
	fReplacedBy    = 8
	fDomain        = 9  // repeated, sorted
	fPolicy        = 10 // model.Policy as JSON, absent when there is none
	fLeaked        = 11
	fLeakURL       = 12
)

func statusNum(s model.Status) uint64 {
	switch s {
	case model.Disabled:
		return 1
	case model.Revoked:
		return 2
	}
	return 0
}

func numStatus(n uint64) model.Status {
	switch n {
	case 1:
		return model.Disabled
	case 2:
		return model.Revoked
	}
	return model.Active
}

func nanos(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return protowire.EncodeZigZag(t.UnixNano())
}

func fromNanos(v uint64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, protowire.DecodeZigZag(v)).UTC()
}

// encodeKey encodes k (its ID is the etcd key, its LastUsed lives in usage).
func encodeKey(k *model.Key) []byte {
	n := 64 + len(k.Name) + len(k.Prefix) + len(k.Replaces) + len(k.ReplacedBy)
	for _, d := range k.Domains {
		n += len(d) + 3
	}
	b := make([]byte, 0, n)
	str := func(f protowire.Number, s string) {
		if s != "" {
			b = protowire.AppendTag(b, f, protowire.BytesType)
			b = protowire.AppendString(b, s)
		}
	}
	num := func(f protowire.Number, v uint64) {
		if v != 0 {
			b = protowire.AppendTag(b, f, protowire.VarintType)
			b = protowire.AppendVarint(b, v)
		}
	}
	str(fName, k.Name)
	str(fPrefix, k.Prefix)
	b = protowire.AppendTag(b, fDigest, protowire.BytesType)
	b = protowire.AppendBytes(b, k.Digest[:])
	num(fStatus, statusNum(k.Status))
	num(fCreated, nanos(k.Created))
	num(fStatusChanged, nanos(k.StatusChanged))
	str(fReplaces, k.Replaces)
	str(fReplacedBy, k.ReplacedBy)
	for _, d := range k.Domains {
		b = protowire.AppendTag(b, fDomain, protowire.BytesType)
		b = protowire.AppendString(b, d)
	}
	num(fLeaked, nanos(k.Leaked))
	str(fLeakURL, k.LeakURL)
	if !zeroPolicy(&k.Policy) {
		pj, _ := json.Marshal(k.Policy)
		b = protowire.AppendTag(b, fPolicy, protowire.BytesType)
		b = protowire.AppendBytes(b, pj)
	}
	return b
}

func zeroPolicy(p *model.Policy) bool {
	return p.Kind == "" && p.Expires.IsZero() && len(p.AllowIPs) == 0 && p.Rate == 0 && p.Burst == 0 &&
		p.Quota == 0 && p.Owner == "" && p.Note == ""
}

// decodeKey decodes a key record. intern, when not nil, shares one string
// per domain name between keys (a bulk load of many keys).
func decodeKey(id string, b []byte, intern map[string]string) (model.Key, error) {
	k := model.Key{ID: id, Status: model.Active, Domains: []string{}}
	for len(b) > 0 {
		f, t, n := protowire.ConsumeTag(b)
		if n < 0 {
			return k, errCorrupt
		}
		b = b[n:]
		switch t {
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return k, errCorrupt
			}
			b = b[n:]
			switch f {
			case fStatus:
				k.Status = numStatus(v)
			case fCreated:
				k.Created = fromNanos(v)
			case fStatusChanged:
				k.StatusChanged = fromNanos(v)
			case fLeaked:
				k.Leaked = fromNanos(v)
			}
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return k, errCorrupt
			}
			b = b[n:]
			switch f {
			case fName:
				k.Name = string(v)
			case fPrefix:
				k.Prefix = string(v)
			case fDigest:
				if len(v) != len(k.Digest) {
					return k, errCorrupt
				}
				copy(k.Digest[:], v)
			case fReplaces:
				k.Replaces = string(v)
			case fReplacedBy:
				k.ReplacedBy = string(v)
			case fLeakURL:
				k.LeakURL = string(v)
			case fDomain:
				d, ok := intern[string(v)]
				if !ok {
					d = string(v)
					if intern != nil {
						intern[d] = d
					}
				}
				k.Domains = append(k.Domains, d)
			case fPolicy:
				if err := json.Unmarshal(v, &k.Policy); err != nil {
					return k, errCorrupt
				}
			}
		default:
			n := protowire.ConsumeFieldValue(f, t, b)
			if n < 0 {
				return k, errCorrupt
			}
			b = b[n:]
		}
	}
	return k, nil
}

// domainRecord is a domain as stored; its name is the etcd key.
type domainRecord struct {
	Unicode string    `json:"u"`
	Created time.Time `json:"c"`
}

func encodeDomain(d model.Domain) []byte {
	b, _ := json.Marshal(domainRecord{Unicode: d.Unicode, Created: d.Created.UTC()})
	return b
}

func decodeDomain(name string, v []byte) (model.Domain, error) {
	var r domainRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return model.Domain{}, fmt.Errorf("domain %q: %w", model.Escape(name), errCorrupt)
	}
	u := r.Unicode
	if u == "" {
		u = name
	}
	return model.Domain{Name: name, Unicode: u, Created: r.Created.UTC(), Keys: []string{}}, nil
}
