package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// errStop ends a scan early.
var errStop = errors.New("stop")

// decodeAudit reads an audit record: the entries of one change, oldest
// first.
func decodeAudit(v []byte) ([]model.AuditEntry, error) {
	var es []model.AuditEntry
	if err := json.Unmarshal(v, &es); err != nil {
		return nil, errCorrupt
	}
	return es, nil
}

// Audit returns entries matching q, newest first. The log is read page by
// page at one revision; an Object filter reads only that object's changes.
func (s *Store) Audit(ctx context.Context, q store.AuditQuery) ([]model.AuditEntry, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	out := []model.AuditEntry{}
	// take adds the entries of one record that match q, newest first; it
	// returns errStop once q.Limit entries are there.
	take := func(v []byte) error {
		es, err := decodeAudit(v)
		if err != nil {
			return err
		}
		for i := len(es) - 1; i >= 0; i-- {
			e := es[i]
			if !q.Match(&e) {
				continue
			}
			out = append(out, e)
			if q.Limit > 0 && len(out) >= q.Limit {
				return errStop
			}
		}
		return nil
	}
	var err error
	if q.Object == "" {
		// A cursor (Before) starts the scan at the record that can hold
		// the entry just older than it: records are keyed by their first
		// seq, newest first.
		from := s.auditPrefix()
		switch {
		case q.Before == 1:
			return out, nil
		case q.Before > 1:
			from = s.auditKey(q.Before - 1) // ^seq order: records of first seq ≤ Before−1
		}
		var rev int64
		err = s.scan(ctx, &rev, from, prefixEnd(s.auditPrefix()), false, func(_, v []byte, _, _ int64) error {
			return take(v)
		})
	} else {
		err = s.auditObject(ctx, q.Object, take)
	}
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	return out, nil
}

// auditObject passes the records of one object's changes to fn, newest
// first: a page of index keys, then their records in one request, at the
// revision of the first page.
func (s *Store) auditObject(ctx context.Context, object string, fn func(v []byte) error) error {
	p := s.auditObjectPrefix(object)
	var page []string
	flush := func(rev int64) error {
		if len(page) == 0 {
			return nil
		}
		ops := make([]clientv3.Op, len(page))
		for i, inv := range page {
			ops[i] = clientv3.OpGet(s.auditPrefix()+inv, clientv3.WithRev(rev))
		}
		page = page[:0]
		for len(ops) > 0 {
			n := min(len(ops), maxTxnOps)
			resp, err := s.get(ctx, ops[:n]...)
			if err != nil {
				return err
			}
			for _, r := range resp.Responses {
				for _, kv := range r.GetResponseRange().Kvs {
					if err := fn(kv.Value); err != nil {
						return err
					}
				}
			}
			ops = ops[n:]
		}
		return nil
	}
	var rev int64
	err := s.scan(ctx, &rev, p, prefixEnd(p), true, func(k, _ []byte, _, _ int64) error {
		page = append(page, strings.TrimPrefix(string(k), p))
		if len(page) >= 256 {
			return flush(rev)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush(rev)
}
