package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// Alerts, under the prefix P:
//
//	P/al/<^time hex><id>  alert record (the alert, its dedup key, its deliveries);
//	                      ^time (the nanoseconds with every bit flipped) makes
//	                      ascending order newest first
//	P/ali/<id>            the record's key suffix
//	P/ald/<dedup>         the alert id holding the dedup key (unique by a compare)

func (s *Store) alertsPrefix() string { return s.p + "al/" }

func invTime(t time.Time) string { return fmt.Sprintf("%016x", ^uint64(t.UnixNano())) }

func timeOfInv(h string) (time.Time, bool) {
	v, err := strconv.ParseUint(h, 16, 64)
	if err != nil || len(h) != 16 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(^v)).UTC(), true
}

// alertRecord is an alert as stored.
type alertRecord struct {
	model.Alert
	Dedup      string           `json:"dedup"`
	Deliveries []model.Delivery `json:"deliveries,omitempty"`
}

func encodeAlert(a model.Alert) ([]byte, error) {
	return json.Marshal(alertRecord{Alert: a, Dedup: a.Dedup, Deliveries: a.Deliveries})
}

func decodeAlert(v []byte) (model.Alert, error) {
	var r alertRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return model.Alert{}, errCorrupt
	}
	a := r.Alert.Clone()
	a.Dedup = r.Dedup
	a.Deliveries = append([]model.Delivery(nil), r.Deliveries...)
	a.Time = a.Time.UTC()
	return a, nil
}

// AddAlert implements store.AlertStore: one transaction whose compares keep
// the dedup key and the id unique, so two nodes finding the same condition
// record it once.
func (s *Store) AddAlert(ctx context.Context, a model.Alert) (model.Alert, bool, error) {
	if a.ID == "" || a.Dedup == "" || a.Time.IsZero() || strings.ContainsAny(a.ID, "/\x00") || strings.ContainsRune(a.Dedup, 0) {
		return model.Alert{}, false, &invalid{errors.New("an alert needs an id, a dedup key and a time")}
	}
	a = a.Clone()
	a.Time = a.Time.UTC()
	var out model.Alert
	var added bool
	err := s.change(ctx, func(t *tx) error {
		r, err := t.read(get{key: s.p + "ald/" + a.Dedup}, get{key: s.p + "ali/" + a.ID, keysOnly: true})
		if err != nil {
			return err
		}
		if len(r[0]) > 0 {
			old, err := t.alertByID(string(r[0][0].Value))
			if err != nil {
				return err
			}
			out, added = old, false
			return nil
		}
		if len(r[1]) > 0 {
			return &invalid{fmt.Errorf("alert id %s is taken", model.Escape(a.ID))}
		}
		v, err := encodeAlert(a)
		if err != nil {
			return err
		}
		suffix := invTime(a.Time) + a.ID
		t.when(clientv3.Compare(clientv3.CreateRevision(s.p+"ald/"+a.Dedup), "=", 0),
			clientv3.Compare(clientv3.CreateRevision(s.p+"ali/"+a.ID), "=", 0))
		t.put(s.alertsPrefix()+suffix, v)
		t.put(s.p+"ali/"+a.ID, []byte(suffix))
		t.put(s.p+"ald/"+a.Dedup, []byte(a.ID))
		out, added = a, true
		return nil
	})
	if err != nil {
		return model.Alert{}, false, err
	}
	return out, added, nil
}

// alertByID reads an alert in t.
func (t *tx) alertByID(id string) (model.Alert, error) {
	kv, err := t.one(t.s.p + "ali/" + id)
	if err != nil {
		return model.Alert{}, err
	}
	if kv == nil {
		return model.Alert{}, fmt.Errorf("%w: no alert %s", store.ErrNotFound, model.Escape(id))
	}
	rec, err := t.one(t.s.alertsPrefix() + string(kv.Value))
	if err != nil {
		return model.Alert{}, err
	}
	if rec == nil {
		return model.Alert{}, fmt.Errorf("alert %s: %w", model.Escape(id), errCorrupt)
	}
	return decodeAlert(rec.Value)
}

// Alerts implements store.AlertStore: newest first, read page by page.
func (s *Store) Alerts(ctx context.Context, q store.AlertQuery) ([]model.Alert, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	out := []model.Alert{}
	var rev int64
	end := prefixEnd(s.alertsPrefix())
	if !q.Since.IsZero() {
		end = s.alertsPrefix() + invTime(q.Since.Add(-time.Nanosecond))
	}
	err := s.scan(ctx, &rev, s.alertsPrefix(), end, false, func(_, v []byte, _, _ int64) error {
		a, err := decodeAlert(v)
		if err != nil {
			return err
		}
		if q.KeyID != "" && a.KeyID != q.KeyID {
			return nil
		}
		out = append(out, a)
		if q.Limit > 0 && len(out) == q.Limit {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	return out, nil
}

// SetAlertDelivery implements store.AlertStore.
func (s *Store) SetAlertDelivery(ctx context.Context, id string, d model.Delivery) error {
	if d.Target == "" {
		return &invalid{errors.New("a delivery needs a target")}
	}
	return s.change(ctx, func(t *tx) error {
		kv, err := t.one(s.p + "ali/" + id)
		if err != nil {
			return err
		}
		if kv == nil {
			return fmt.Errorf("%w: no alert %s", store.ErrNotFound, model.Escape(id))
		}
		k := s.alertsPrefix() + string(kv.Value)
		rec, err := t.one(k)
		if err != nil {
			return err
		}
		if rec == nil {
			return fmt.Errorf("alert %s: %w", model.Escape(id), errCorrupt)
		}
		a, err := decodeAlert(rec.Value)
		if err != nil {
			return err
		}
		a.SetDelivery(d)
		v, err := encodeAlert(a)
		if err != nil {
			return err
		}
		t.when(clientv3.Compare(clientv3.ModRevision(k), "=", rec.ModRevision))
		t.put(k, v)
		return nil
	})
}

// PruneAlerts implements store.AlertStore: the alerts found before t go,
// a few dozen per transaction; a dedup key goes only if it still names
// the alert.
func (s *Store) PruneAlerts(ctx context.Context, before time.Time) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	type gone struct{ key, id, dedup string }
	var all []gone
	var rev int64
	err := s.scan(ctx, &rev, s.alertsPrefix()+invTime(before), prefixEnd(s.alertsPrefix()), false, func(k, v []byte, _, _ int64) error {
		suffix := strings.TrimPrefix(string(k), s.alertsPrefix())
		if at, ok := timeOfInv(suffix[:min(16, len(suffix))]); !ok || !at.Before(before) {
			return nil
		}
		a, err := decodeAlert(v)
		if err != nil {
			return err
		}
		all = append(all, gone{string(k), a.ID, a.Dedup})
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for len(all) > 0 {
		batch := all[:min(len(all), maxTxnOps/3)]
		ops := make([]clientv3.Op, 0, 3*len(batch))
		for _, g := range batch {
			dk := s.p + "ald/" + g.dedup
			ops = append(ops, clientv3.OpDelete(g.key), clientv3.OpDelete(s.p+"ali/"+g.id),
				clientv3.OpTxn([]clientv3.Cmp{clientv3.Compare(clientv3.Value(dk), "=", g.id)}, []clientv3.Op{clientv3.OpDelete(dk)}, nil))
		}
		cctx, cancel := s.reqCtx(ctx)
		_, err := s.cli.Txn(cctx).Then(ops...).Commit()
		cancel()
		if err != nil {
			return n, s.mapErr(ctx, err)
		}
		n += len(batch)
		all = all[len(batch):]
	}
	return n, nil
}

var _ store.AlertStore = (*Store)(nil)
