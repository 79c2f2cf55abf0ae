package bolt

import (
	"encoding/binary"
	"errors"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/tmaps/console/model"
)

// keyRecord is a key as stored: the model fields except the links, plus the
// last host seen by the gate.
type keyRecord struct {
	seq      uint64
	key      model.Key // Domains left empty
	lastHost string
}

// Versions of the key record: 1 has no policy (stores made before key
// policies; its keys decode with the zero Policy), 2 appends the policy,
// 3 the leak mark. encodeKey writes version 3.
const (
	keyRecordV1      = 1
	keyRecordV2      = 2
	keyRecordVersion = 3
)

var errCorrupt = errors.New("corrupt record in the store file")

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func statusByte(s model.Status) byte {
	switch s {
	case model.Disabled:
		return 1
	case model.Revoked:
		return 2
	}
	return 0
}

func byteStatus(b byte) model.Status {
	switch b {
	case 1:
		return model.Disabled
	case 2:
		return model.Revoked
	}
	return model.Active
}

// timeNano encodes t; the zero time is 0.
func timeNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func nanoTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// encodeKey writes a compact binary key record:
// version, id, name, prefix, digest[32], status, created, status changed,
// last used, replaces, replaced by, last host; then (version 2) the policy:
// kind, expires, allowlist count and entries (family 4 or 6, address, bits),
// rate (float64 bits, 8 bytes), burst, quota, owner, note; then (version 3)
// leaked (time), leak URL.
func encodeKey(r *keyRecord) []byte {
	k := &r.key
	b := make([]byte, 0, 96+len(k.ID)+len(k.Name)+len(k.Prefix)+len(k.Replaces)+len(k.ReplacedBy)+len(r.lastHost)+
		len(k.Owner)+len(k.Note)+len(k.LeakURL)+18*len(k.AllowIPs)+8*binary.MaxVarintLen64)
	b = append(b, keyRecordVersion)
	b = appendString(b, k.ID)
	b = appendString(b, k.Name)
	b = appendString(b, k.Prefix)
	b = append(b, k.Digest[:]...)
	b = append(b, statusByte(k.Status))
	b = binary.AppendVarint(b, timeNano(k.Created))
	b = binary.AppendVarint(b, timeNano(k.StatusChanged))
	b = binary.AppendVarint(b, timeNano(k.LastUsed))
	b = appendString(b, k.Replaces)
	b = appendString(b, k.ReplacedBy)
	b = appendString(b, r.lastHost)
	p := &k.Policy
	b = append(b, kindByte(p.Kind))
	b = binary.AppendVarint(b, timeNano(p.Expires))
	b = binary.AppendUvarint(b, uint64(len(p.AllowIPs)))
	for _, ip := range p.AllowIPs {
		a := ip.Addr()
		if a.Is4() {
			a4 := a.As4()
			b = append(b, 4)
			b = append(b, a4[:]...)
		} else {
			a16 := a.As16()
			b = append(b, 6)
			b = append(b, a16[:]...)
		}
		b = append(b, byte(ip.Bits()))
	}
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(p.Rate))
	b = binary.AppendUvarint(b, uint64(p.Burst))
	b = binary.AppendUvarint(b, p.Quota)
	b = appendString(b, p.Owner)
	b = appendString(b, p.Note)
	b = binary.AppendVarint(b, timeNano(k.Leaked))
	b = appendString(b, k.LeakURL)
	return b
}

var kinds = [...]model.Kind{model.KindUnset, model.KindBrowser, model.KindServer, model.KindMobile}

func kindByte(k model.Kind) byte {
	for i, x := range kinds {
		if x == k {
			return byte(i)
		}
	}
	return 0
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads a record. The record is copied out of the transaction's
// memory once, as a string, and every string field is a slice of that copy
// (one allocation per record).
type decoder struct {
	s   string
	err error
}

func (d *decoder) string() string {
	if d.err != nil {
		return ""
	}
	n, w := uvarint(d.s)
	if w <= 0 || uint64(len(d.s)-w) < n {
		d.err = errCorrupt
		return ""
	}
	s := d.s[w : w+int(n)]
	d.s = d.s[w+int(n):]
	return s
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	ux, w := uvarint(d.s)
	if w <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.s = d.s[w:]
	v := int64(ux >> 1) // zig-zag, as binary.AppendVarint writes it
	if ux&1 != 0 {
		v = ^v
	}
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, w := uvarint(d.s)
	if w <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.s = d.s[w:]
	return v
}

func (d *decoder) byte() byte {
	var b [1]byte
	d.bytes(b[:])
	return b[0]
}

func (d *decoder) bytes(dst []byte) {
	if d.err != nil {
		return
	}
	if len(d.s) < len(dst) {
		d.err = errCorrupt
		return
	}
	copy(dst, d.s)
	d.s = d.s[len(dst):]
}

// uvarint is binary.Uvarint over a string.
func uvarint(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		c := s[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				return 0, -(i + 1)
			}
			return x | uint64(c)<<shift, i + 1
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, 0
}

func decodeKey(seq uint64, b []byte) (keyRecord, error) {
	r := keyRecord{seq: seq}
	var err error
	r.lastHost, err = decodeKeyTo(&r.key, b)
	return r, err
}

// decodeKeyTo decodes a key record into *k (Keys decodes each key where
// the list holds it) and returns the host of its last request.
func decodeKeyTo(k *model.Key, b []byte) (lastHost string, err error) {
	if len(b) == 0 || b[0] < keyRecordV1 || b[0] > keyRecordVersion {
		return "", errCorrupt
	}
	d := decoder{s: string(b[1:])}
	k.ID = d.string()
	k.Name = d.string()
	k.Prefix = d.string()
	d.bytes(k.Digest[:])
	var st [1]byte
	d.bytes(st[:])
	k.Status = byteStatus(st[0])
	k.Created = nanoTime(d.varint())
	k.StatusChanged = nanoTime(d.varint())
	k.LastUsed = nanoTime(d.varint())
	k.Replaces = d.string()
	k.ReplacedBy = d.string()
	lastHost = d.string()
	if b[0] >= keyRecordV2 {
		d.policy(&k.Policy)
	}
	if b[0] >= keyRecordVersion {
		k.Leaked = nanoTime(d.varint())
		k.LeakURL = d.string()
	}
	if d.err == nil && len(d.s) != 0 {
		d.err = errCorrupt
	}
	if d.err == nil {
		ownText(&k.ID, &k.Name, &k.Prefix, &k.Replaces, &k.ReplacedBy, &lastHost, &k.Owner, &k.Note, &k.LeakURL)
	}
	return lastHost, d.err
}

// ownText copies the strings into one allocation of their exact length
// and points them there, so that a decoded key does not keep its whole
// record (digest, times, policy) in memory: 100,000 keys held by the
// console or the gate are 6 MB lighter.
func ownText(fields ...*string) {
	n := 0
	for _, f := range fields {
		n += len(*f)
	}
	var b strings.Builder
	b.Grow(n)
	for _, f := range fields {
		b.WriteString(*f)
	}
	all := b.String()
	for _, f := range fields {
		*f, all = all[:len(*f)], all[len(*f):]
	}
}

// policy reads the policy of a version 2 record.
func (d *decoder) policy(p *model.Policy) {
	kb := d.byte()
	if int(kb) >= len(kinds) {
		d.err = errCorrupt
		return
	}
	p.Kind = kinds[kb]
	p.Expires = nanoTime(d.varint())
	n := d.uvarint()
	if n > uint64(len(d.s))/6 { // each entry takes at least 6 bytes
		d.err = errCorrupt
		return
	}
	if n > 0 {
		p.AllowIPs = make([]netip.Prefix, 0, n)
	}
	for range n {
		var a netip.Addr
		switch d.byte() {
		case 4:
			var a4 [4]byte
			d.bytes(a4[:])
			a = netip.AddrFrom4(a4)
		case 6:
			var a16 [16]byte
			d.bytes(a16[:])
			a = netip.AddrFrom16(a16)
		default:
			d.err = errCorrupt
		}
		bits := int(d.byte())
		if d.err != nil {
			return
		}
		pfx, err := a.Prefix(bits)
		if err != nil || pfx.Bits() != bits || pfx.Addr() != a {
			d.err = errCorrupt // bits out of range, or host bits set
			return
		}
		p.AllowIPs = append(p.AllowIPs, pfx)
	}
	var rb [8]byte
	d.bytes(rb[:])
	p.Rate = math.Float64frombits(binary.BigEndian.Uint64(rb[:]))
	burst := d.uvarint()
	if burst > math.MaxUint32 {
		d.err = errCorrupt
		return
	}
	p.Burst = uint32(burst)
	p.Quota = d.uvarint()
	p.Owner = d.string()
	p.Note = d.string()
}

// counters are the counts of one hour: allowed, 401, 403, 429.
type counters [4]uint64

// dayRecord is the usage of one key (or of the total) over one UTC day:
// 24 hourly counters. On disk it is a 3-byte bitmap of the hours that have
// allowed, 401 or 403 counts followed by 3 uvarints per such hour, so a key
// used in one hour of a day costs a handful of bytes; then, only when some
// hour has 429s, a second 3-byte bitmap and one uvarint per hour it marks.
// Records written before 429s were counted end after the first part.
type dayRecord [24]counters

func (d *dayRecord) encode() []byte {
	var mask, mask429 uint32
	b := make([]byte, 3, 3+24*3*2)
	for h := range d {
		if d[h][0]|d[h][1]|d[h][2] != 0 {
			mask |= 1 << h
			for _, v := range d[h][:3] {
				b = binary.AppendUvarint(b, v)
			}
		}
		if d[h][3] != 0 {
			mask429 |= 1 << h
		}
	}
	b[0], b[1], b[2] = byte(mask), byte(mask>>8), byte(mask>>16)
	if mask429 != 0 {
		b = append(b, byte(mask429), byte(mask429>>8), byte(mask429>>16))
		for h := range d {
			if mask429&(1<<h) != 0 {
				b = binary.AppendUvarint(b, d[h][3])
			}
		}
	}
	return b
}

func decodeDay(b []byte) (dayRecord, error) {
	var d dayRecord
	if len(b) == 0 {
		return d, nil
	}
	if len(b) < 3 {
		return d, errCorrupt
	}
	mask := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
	b = b[3:]
	for h := range d {
		if mask&(1<<h) == 0 {
			continue
		}
		for i := range 3 {
			v, w := binary.Uvarint(b)
			if w <= 0 {
				return d, errCorrupt
			}
			d[h][i] = v
			b = b[w:]
		}
	}
	if len(b) == 0 {
		return d, nil
	}
	if len(b) < 3 {
		return d, errCorrupt
	}
	mask429 := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
	b = b[3:]
	if mask429 == 0 {
		return d, errCorrupt
	}
	for h := range d {
		if mask429&(1<<h) == 0 {
			continue
		}
		v, w := binary.Uvarint(b)
		if w <= 0 || v == 0 {
			return d, errCorrupt
		}
		d[h][3] = v
		b = b[w:]
	}
	if len(b) != 0 {
		return d, errCorrupt
	}
	return d, nil
}
