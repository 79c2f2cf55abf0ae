package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// alertRecord is an alert as stored: the webhook fields, its dedup key and
// its deliveries.
type alertRecord struct {
	model.Alert
	Dedup      string           `json:"dedup"`
	Deliveries []model.Delivery `json:"deliveries,omitempty"`
}

func (r alertRecord) alert() model.Alert {
	a := r.Alert.Clone()
	a.Dedup = r.Dedup
	a.Deliveries = append([]model.Delivery(nil), r.Deliveries...)
	a.Time = a.Time.UTC()
	return a
}

// alertKey orders alerts by the time they were found, then by id.
func alertKey(a model.Alert) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(a.ID)), uint64(a.Time.UnixNano()))
	return append(b, a.ID...)
}

func putAlert(tx *bbolt.Tx, k []byte, a model.Alert) error {
	v, err := json.Marshal(alertRecord{Alert: a, Dedup: a.Dedup, Deliveries: a.Deliveries})
	if err != nil {
		return err
	}
	return tx.Bucket(bAlerts).Put(k, v)
}

func getAlert(v []byte) (model.Alert, error) {
	var r alertRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return model.Alert{}, errCorrupt
	}
	return r.alert(), nil
}

// addAlert records a in tx unless its Dedup is taken; it returns the alert
// stored under that Dedup and whether a was added.
func addAlert(tx *bbolt.Tx, a model.Alert) (model.Alert, bool, error) {
	if a.ID == "" || a.Dedup == "" || a.Time.IsZero() {
		return model.Alert{}, false, &invalid{fmt.Errorf("an alert needs an id, a dedup key and a time")}
	}
	dd := tx.Bucket(bAlertDedup)
	if id := dd.Get([]byte(a.Dedup)); id != nil {
		k := tx.Bucket(bAlertIDs).Get(id)
		if v := tx.Bucket(bAlerts).Get(k); v != nil {
			old, err := getAlert(v)
			return old, false, err
		}
	}
	if tx.Bucket(bAlertIDs).Get([]byte(a.ID)) != nil {
		return model.Alert{}, false, &invalid{fmt.Errorf("alert id %s is taken", a.ID)}
	}
	a = a.Clone()
	a.Time = a.Time.UTC()
	k := alertKey(a)
	if err := putAlert(tx, k, a); err != nil {
		return model.Alert{}, false, err
	}
	if err := tx.Bucket(bAlertIDs).Put([]byte(a.ID), k); err != nil {
		return model.Alert{}, false, err
	}
	if err := dd.Put([]byte(a.Dedup), []byte(a.ID)); err != nil {
		return model.Alert{}, false, err
	}
	return a, true, nil
}

// AddAlert implements store.AlertStore.
func (s *Store) AddAlert(ctx context.Context, a model.Alert) (model.Alert, bool, error) {
	var out model.Alert
	var added bool
	err := s.update(ctx, func(tx *bbolt.Tx) ([]store.Event, error) {
		var err error
		out, added, err = addAlert(tx, a)
		if err != nil || !added {
			return nil, err
		}
		return []store.Event{{Kind: store.EventAlert, ID: out.ID, Action: string(out.Kind)}}, nil
	})
	return out, added, err
}

// Alerts implements store.AlertStore.
func (s *Store) Alerts(ctx context.Context, q store.AlertQuery) ([]model.Alert, error) {
	out := []model.Alert{}
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bAlerts).Cursor()
		var since []byte
		if !q.Since.IsZero() {
			since = binary.BigEndian.AppendUint64(nil, uint64(q.Since.UnixNano()))
		}
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if since != nil && bytes.Compare(k[:8], since) < 0 {
				break
			}
			a, err := getAlert(v)
			if err != nil {
				return err
			}
			if q.KeyID != "" && a.KeyID != q.KeyID {
				continue
			}
			out = append(out, a)
			if q.Limit > 0 && len(out) == q.Limit {
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

// SetAlertDelivery implements store.AlertStore.
func (s *Store) SetAlertDelivery(ctx context.Context, id string, d model.Delivery) error {
	if d.Target == "" {
		return &invalid{fmt.Errorf("a delivery needs a target")}
	}
	return s.update(ctx, func(tx *bbolt.Tx) ([]store.Event, error) {
		k := tx.Bucket(bAlertIDs).Get([]byte(id))
		if k == nil {
			return nil, fmt.Errorf("%w: no alert %s", store.ErrNotFound, model.Escape(id))
		}
		k = bytes.Clone(k)
		a, err := getAlert(tx.Bucket(bAlerts).Get(k))
		if err != nil {
			return nil, err
		}
		a.SetDelivery(d)
		if err := putAlert(tx, k, a); err != nil {
			return nil, err
		}
		return []store.Event{{Kind: store.EventAlert, ID: id, Action: "delivery"}}, nil
	})
}

// PruneAlerts implements store.AlertStore.
func (s *Store) PruneAlerts(ctx context.Context, before time.Time) (int, error) {
	n := 0
	limit := binary.BigEndian.AppendUint64(nil, uint64(before.UnixNano()))
	err := s.update(ctx, func(tx *bbolt.Tx) ([]store.Event, error) {
		n = 0
		c := tx.Bucket(bAlerts).Cursor()
		var gone []model.Alert
		var keys [][]byte
		for k, v := c.First(); k != nil && bytes.Compare(k[:8], limit) < 0; k, v = c.Next() {
			a, err := getAlert(v)
			if err != nil {
				return nil, err
			}
			gone = append(gone, a)
			keys = append(keys, bytes.Clone(k))
		}
		for i, a := range gone {
			if err := tx.Bucket(bAlerts).Delete(keys[i]); err != nil {
				return nil, err
			}
			if err := tx.Bucket(bAlertIDs).Delete([]byte(a.ID)); err != nil {
				return nil, err
			}
			// The dedup entry goes only if it still names this alert.
			dd := tx.Bucket(bAlertDedup)
			if bytes.Equal(dd.Get([]byte(a.Dedup)), []byte(a.ID)) {
				if err := dd.Delete([]byte(a.Dedup)); err != nil {
					return nil, err
				}
			}
		}
		n = len(gone)
		return nil, nil
	})
	return n, err
}

var _ store.AlertStore = (*Store)(nil)
