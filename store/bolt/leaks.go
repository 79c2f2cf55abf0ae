package bolt

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	bbolt "go.etcd.io/bbolt"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// metaLeakReports counts the leak reports received (meta bucket): the one
// write every report makes, ours or not.
var metaLeakReports = []byte("leak_reports")

// ReportLeaks implements store.LeakStore.
func (s *Store) ReportLeaks(ctx context.Context, leaks []model.Leak, disable bool) ([]store.LeakResult, error) {
	var out []store.LeakResult
	err := s.update(ctx, func(tx *bbolt.Tx) ([]store.Event, error) {
		out = nil
		meta := tx.Bucket(bMeta)
		var n uint64
		if v := meta.Get(metaLeakReports); len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		if err := meta.Put(metaLeakReports, u64(n+1)); err != nil {
			return nil, err
		}
		var evs []store.Event
		for _, l := range leaks {
			seq := tx.Bucket(bKeyDigests).Get(l.Digest[:])
			if len(seq) != 8 {
				continue
			}
			r, err := getKeySeq(tx, binary.BigEndian.Uint64(seq))
			if err != nil {
				return nil, err
			}
			res, alertID, err := s.markLeaked(ctx, tx, &r, l, disable)
			if err != nil {
				return nil, err
			}
			out = append(out, res)
			if res.New {
				evs = append(evs, store.Event{Kind: store.EventKey, ID: r.key.ID, Action: model.AuditLeak})
			}
			if alertID != "" {
				evs = append(evs, store.Event{Kind: store.EventAlert, ID: alertID, Action: string(model.AlertLeak)})
			}
		}
		return evs, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// leakText makes reported text safe to keep: escaped, at most n bytes of
// valid UTF-8.
func leakText(s string, n int) string {
	s = model.Escape(s)
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "")
	}
	return s
}

// markLeaked records one leak of the key r in tx, and returns the id of
// the alert it recorded ("" when none).
func (s *Store) markLeaked(ctx context.Context, tx *bbolt.Tx, r *keyRecord, l model.Leak, disable bool) (store.LeakResult, string, error) {
	url := leakText(l.URL, model.MaxLeakURL)
	k := &r.key
	if !k.Leaked.IsZero() && k.LeakURL == url {
		return store.LeakResult{Key: fullKey(tx, *r)}, "", nil
	}
	now := s.now().UTC()
	if k.Leaked.IsZero() {
		k.Leaked = now
	}
	k.LeakURL = url
	if err := s.audit(ctx, tx, model.AuditLeak, "key:"+k.ID, "", url); err != nil {
		return store.LeakResult{}, "", err
	}
	res := store.LeakResult{New: true}
	if disable && k.Status == model.Active {
		k.Status, k.StatusChanged = model.Disabled, now
		if err := s.audit(ctx, tx, string(model.ActDisable), "key:"+k.ID, string(model.Active), string(model.Disabled)); err != nil {
			return store.LeakResult{}, "", err
		}
		res.Disabled = true
	}
	if err := putKey(tx, r); err != nil {
		return store.LeakResult{}, "", err
	}
	summary := fmt.Sprintf("key %q (%s) was found leaked", k.Name, k.Prefix)
	if url != "" {
		summary += " at " + url
	}
	if res.Disabled {
		summary += "; it was disabled"
	}
	a, added, err := addAlert(tx, model.Alert{ID: model.NewAlertID(), Kind: model.AlertLeak, Time: now, KeyID: k.ID, KeyName: k.Name,
		KeyPrefix: k.Prefix, Summary: summary, URL: url, Source: leakText(l.Source, 64), Disabled: res.Disabled,
		Dedup: model.AlertDedup(model.AlertLeak, k.ID, now)})
	if err != nil {
		return store.LeakResult{}, "", err
	}
	res.Key = fullKey(tx, *r)
	if !added {
		return res, "", nil
	}
	return res, a.ID, nil
}

var _ store.LeakStore = (*Store)(nil)
