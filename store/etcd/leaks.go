package etcd

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// leakText makes reported text safe to keep: escaped, at most n bytes of
// valid UTF-8.
func leakText(s string, n int) string {
	s = model.Escape(s)
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "")
	}
	return s
}

// ReportLeaks implements store.LeakStore, in one transaction: every report
// bumps P/meta/leak_reports (so one of unknown secrets costs the same
// write), and each leak of one of our keys marks it, audits it, may
// disable it and records an alert (its dedup key unique by a compare).
func (s *Store) ReportLeaks(ctx context.Context, leaks []model.Leak, disable bool) ([]store.LeakResult, error) {
	var out []store.LeakResult
	err := s.change(ctx, func(t *tx) error {
		out = nil
		counter := s.p + "meta/leak_reports"
		gets := []get{{key: counter}}
		for _, l := range leaks {
			gets = append(gets, get{key: s.digestKey(l.Digest)})
		}
		r, err := t.read(gets...)
		if err != nil {
			return err
		}
		var n uint64
		if len(r[0]) == 1 {
			n, _ = strconv.ParseUint(string(r[0][0].Value), 10, 64)
			t.when(clientv3.Compare(clientv3.ModRevision(counter), "=", r[0][0].ModRevision))
		} else {
			t.when(clientv3.Compare(clientv3.CreateRevision(counter), "=", 0))
		}
		t.put(counter, []byte(strconv.FormatUint(n+1, 10)))
		changed := map[string]keyRec{}
		alerted := map[string]bool{} // dedup keys written by this report
		for i, l := range leaks {
			if len(r[i+1]) == 0 {
				continue
			}
			id := string(r[i+1][0].Value)
			rec, ok := changed[id]
			if !ok {
				if rec, err = t.readKey(id); err != nil {
					return err
				}
			}
			res, alert, err := s.markLeaked(t, &rec.key, l, disable)
			if err != nil {
				return err
			}
			changed[id] = rec
			out = append(out, res)
			if alert != nil && !alerted[alert.Dedup] {
				alerted[alert.Dedup] = true
				v, err := encodeAlert(*alert)
				if err != nil {
					return err
				}
				kv, err := t.one(s.p + "ald/" + alert.Dedup)
				if err != nil {
					return err
				}
				if kv == nil {
					suffix := invTime(alert.Time) + alert.ID
					t.when(clientv3.Compare(clientv3.CreateRevision(s.p+"ald/"+alert.Dedup), "=", 0))
					t.put(s.alertsPrefix()+suffix, v)
					t.put(s.p+"ali/"+alert.ID, []byte(suffix))
					t.put(s.p+"ald/"+alert.Dedup, []byte(alert.ID))
				}
			}
		}
		for _, rec := range changed {
			t.writeKey(rec)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// markLeaked records one leak of k in t and returns the alert to record
// (nil when the leak was already known with this URL).
func (s *Store) markLeaked(t *tx, k *model.Key, l model.Leak, disable bool) (store.LeakResult, *model.Alert, error) {
	url := leakText(l.URL, model.MaxLeakURL)
	if !k.Leaked.IsZero() && k.LeakURL == url {
		return store.LeakResult{Key: k.Clone()}, nil, nil
	}
	if k.Leaked.IsZero() {
		k.Leaked = t.at
	}
	k.LeakURL = url
	t.audit(model.AuditLeak, "key:"+k.ID, "", url)
	res := store.LeakResult{New: true}
	if disable && k.Status == model.Active {
		k.Status, k.StatusChanged = model.Disabled, t.at
		t.audit(string(model.ActDisable), "key:"+k.ID, string(model.Active), string(model.Disabled))
		res.Disabled = true
	}
	summary := fmt.Sprintf("key %q (%s) was found leaked", k.Name, k.Prefix)
	if url != "" {
		summary += " at " + url
	}
	if res.Disabled {
		summary += "; it was disabled"
	}
	res.Key = k.Clone()
	a := &model.Alert{ID: model.NewAlertID(), Kind: model.AlertLeak, Time: t.at, KeyID: k.ID, KeyName: k.Name,
		KeyPrefix: k.Prefix, Summary: summary, URL: url, Source: leakText(l.Source, 64), Disabled: res.Disabled,
		Dedup: model.AlertDedup(model.AlertLeak, k.ID, t.at)}
	return res, a, nil
}

var _ store.LeakStore = (*Store)(nil)
