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

// decoder reads a record, copying everything out of the transaction's memory.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) string() string {
	if d.err != nil {
		return ""
	}
	n, w := binary.Uvarint(d.b)
	if w <= 0 || uint64(len(d.b)-w) < n {
		d.err = errCorrupt
		return ""
	}
	s := string(d.b[w : w+int(n)])
	d.b = d.b[w+int(n):]
	return s
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, w := binary.Varint(d.b)
	if w <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[w:]
	return v
}

func (d *decoder) bytes(dst []byte) {
	if d.err != nil {
		return
	}
	if len(d.b) < len(dst) {
		d.err = errCorrupt
		return
	}
	copy(dst, d.b)
	d.b = d.b[len(dst):]
}

func decodeKey(seq uint64, b []byte) (keyRecord, error) {
	r := keyRecord{seq: seq}
	if len(b) == 0 || b[0] != keyRecordVersion {
		return r, errCorrupt
	}
	d := decoder{b: b[1:]}
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

// counters is one usage bucket on disk: allowed, 401, 403.
type counters [3]uint64

func (c counters) encode() []byte {
	b := make([]byte, 24)
	for i, v := range c {
		binary.BigEndian.PutUint64(b[8*i:], v)
	}
	return b
}

func decodeCounters(b []byte) counters {
	var c counters
	if len(b) != 24 {
		return c
	}
	for i := range c {
		c[i] = binary.BigEndian.Uint64(b[8*i:])
	}
	return c
}

func bytesHour(b []byte) time.Time {
	return time.Unix(int64(binary.BigEndian.Uint32(b))*3600, 0).UTC()
}
