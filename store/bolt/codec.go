package bolt

import (
	"encoding/binary"
	"errors"
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

const keyRecordVersion = 1

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
// last used, replaces, replaced by, last host.
func encodeKey(r *keyRecord) []byte {
	k := &r.key
	b := make([]byte, 0, 64+len(k.ID)+len(k.Name)+len(k.Prefix)+len(k.Replaces)+len(k.ReplacedBy)+len(r.lastHost)+3*binary.MaxVarintLen64)
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
	return b
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
	if len(b) == 0 || b[0] != keyRecordVersion {
		return r, errCorrupt
	}
	d := decoder{s: string(b[1:])}
	k := &r.key
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
	r.lastHost = d.string()
	return r, d.err
}

// counters are the counts of one hour: allowed, 401, 403.
type counters [3]uint64

// dayRecord is the usage of one key (or of the total) over one UTC day:
// 24 hourly counters. On disk it is a 3-byte bitmap of the hours that have
// counts followed by 3 uvarints per such hour, so a key used in one hour of
// a day costs a handful of bytes.
type dayRecord [24]counters

func (d *dayRecord) encode() []byte {
	var mask uint32
	b := make([]byte, 3, 3+24*3*2)
	for h := range d {
		if d[h] != (counters{}) {
			mask |= 1 << h
			for _, v := range d[h] {
				b = binary.AppendUvarint(b, v)
			}
		}
	}
	b[0], b[1], b[2] = byte(mask), byte(mask>>8), byte(mask>>16)
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
		for i := range d[h] {
			v, w := binary.Uvarint(b)
			if w <= 0 {
				return d, errCorrupt
			}
			d[h][i] = v
			b = b[w:]
		}
	}
	return d, nil
}
