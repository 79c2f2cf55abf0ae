package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"

	bbolt "go.etcd.io/bbolt"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

func objectKey(object string, seq uint64) []byte {
	b := make([]byte, 0, len(object)+9)
	b = append(b, object...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint64(b, seq)
}

// audit appends one entry in tx, with the actor of ctx, and indexes it by
// object.
func (s *Store) audit(ctx context.Context, tx *bbolt.Tx, action, object, before, after string) error {
	b := tx.Bucket(bAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	e := model.AuditEntry{
		Seq:    seq,
		Time:   s.now().UTC(),
		Actor:  store.Actor(ctx),
		Action: action,
		Object: object,
		Before: before,
		After:  after,
	}
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := b.Put(u64(seq), v); err != nil {
		return err
	}
	return tx.Bucket(bAuditObjects).Put(objectKey(object, seq), nil)
}

// indexAudit fills the object index from the log.
func indexAudit(tx *bbolt.Tx) error {
	idx := tx.Bucket(bAuditObjects)
	return tx.Bucket(bAudit).ForEach(func(k, v []byte) error {
		var e model.AuditEntry
		if err := json.Unmarshal(v, &e); err != nil || len(k) != 8 {
			return errCorrupt
		}
		return idx.Put(objectKey(e.Object, binary.BigEndian.Uint64(k)), nil)
	})
}

// Audit returns entries matching q, newest first. An Object filter reads
// only that object's entries; Before starts the walk below that entry; an
// ASCII Text is looked for in the stored bytes before an entry is decoded.
func (s *Store) Audit(ctx context.Context, q store.AuditQuery) ([]model.AuditEntry, error) {
	out := []model.AuditEntry{}
	lq, prefilter := textKey(q.Text)
	var buf []byte
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		log := tx.Bucket(bAudit)
		// next walks the log (or the object's index) from the newest entry
		// (or the one before q.Before).
		var next func() (seq []byte, v []byte)
		if q.Object == "" {
			c := log.Cursor()
			var k, v []byte
			if q.Before == 0 {
				k, v = c.Last()
			} else if k, _ = c.Seek(u64(q.Before)); k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
			next = func() ([]byte, []byte) {
				rk, rv := k, v
				if k != nil {
					k, v = c.Prev()
				}
				return rk, rv
			}
		} else {
			prefix := objectKey(q.Object, 0)[:len(q.Object)+1]
			c := tx.Bucket(bAuditObjects).Cursor()
			// Position after the object's last entry (or at q.Before), then
			// walk back.
			from := objectKey(q.Object, ^uint64(0))
			if q.Before != 0 {
				from = objectKey(q.Object, q.Before)
			}
			k, _ := c.Seek(from)
			if k == nil {
				k, _ = c.Last()
			} else if q.Before != 0 || !bytes.Equal(k, from) {
				k, _ = c.Prev()
			}
			next = func() ([]byte, []byte) {
				for k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8 {
					seq := k[len(prefix):]
					k, _ = c.Prev()
					if v := log.Get(seq); v != nil {
						return seq, v
					}
				}
				return nil, nil
			}
		}
		for k, v := next(); k != nil; k, v = next() {
			if prefilter {
				buf = lowerASCII(append(buf[:0], v...))
				if !bytes.Contains(buf, lq) {
					continue
				}
			}
			var e model.AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return errCorrupt
			}
			e.Seq = binary.BigEndian.Uint64(k)
			if !q.Match(&e) {
				continue
			}
			out = append(out, e)
			if q.Limit > 0 && len(out) >= q.Limit {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// textKey is the lowercased text to look for in an entry's stored JSON,
// when that is sound: printable ASCII that JSON stores as is.
func textKey(text string) ([]byte, bool) {
	if text == "" {
		return nil, false
	}
	for i := 0; i < len(text); i++ {
		if c := text[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return nil, false
		}
	}
	return lowerASCII([]byte(text)), true
}

// lowerASCII lowercases the ASCII letters of b in place.
func lowerASCII(b []byte) []byte {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return b
}

// AppendAudit implements store.AuditAppender: one entry with the actor of
// ctx, in its own transaction.
func (s *Store) AppendAudit(ctx context.Context, action, object, before, after string) error {
	return s.update(ctx, func(tx *bbolt.Tx) ([]store.Event, error) {
		return nil, s.audit(ctx, tx, action, object, before, after)
	})
}

var _ store.AuditAppender = (*Store)(nil)
