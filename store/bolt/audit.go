package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"

	bbolt "go.etcd.io/bbolt"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// audit appends one entry in tx, with the actor of ctx.
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
	return b.Put(u64(seq), v)
}

// Audit returns entries matching q, newest first.
func (s *Store) Audit(ctx context.Context, q store.AuditQuery) ([]model.AuditEntry, error) {
	out := []model.AuditEntry{}
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bAudit).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var e model.AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return errCorrupt
			}
			e.Seq = binary.BigEndian.Uint64(k)
			if q.Object != "" && e.Object != q.Object ||
				q.Actor != "" && e.Actor != q.Actor ||
				!q.Since.IsZero() && e.Time.Before(q.Since) {
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
