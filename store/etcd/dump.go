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

var _ store.Exporter = (*Store)(nil)

// Export implements store.Exporter: every range is read at one revision
// (paged), so the export is the store as of one moment while nodes go on
// writing. Usage, refused and matched hosts come summed over the nodes.
// It fails when etcd has compacted that revision meanwhile (a very long
// export on a busy cluster): run it again.
func (s *Store) Export(ctx context.Context, fn func(store.Item) error) error {
	_, err := s.ExportAt(ctx, fn)
	return err
}

// ExportAt is Export, also returning the revision it read.
func (s *Store) ExportAt(ctx context.Context, fn func(store.Item) error) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	var rev int64
	scan := func(p string, f func(rest string, v []byte) error) error {
		return s.scan(ctx, &rev, p, prefixEnd(p), false, func(k, v []byte, _, _ int64) error {
			return f(strings.TrimPrefix(string(k), p), v)
		})
	}
	err := scan(s.tokensPrefix(), func(name string, v []byte) error {
		t, err := decodeToken(name, v)
		if err != nil {
			return fmt.Errorf("token %s: %w", model.Escape(name), err)
		}
		return fn(store.Item{Token: &t})
	})
	if err != nil {
		return rev, err
	}
	err = scan(s.domainsPrefix(), func(name string, v []byte) error {
		d, err := decodeDomain(name, v)
		if err != nil {
			return err
		}
		d.Keys = nil
		return fn(store.Item{Domain: &d})
	})
	if err != nil {
		return rev, err
	}
	used := map[string]lastUse{}
	err = scan(s.p+"u/l/", func(rest string, v []byte) error {
		id, _, _ := strings.Cut(rest, "/")
		u, err := decodeLastUse(v)
		if err != nil {
			return fmt.Errorf("last use %s: %w", model.Escape(rest), err)
		}
		if u.at.After(used[id].at) {
			used[id] = u
		}
		return nil
	})
	if err != nil {
		return rev, err
	}
	keys, _, err := s.keysAt(ctx, rev)
	if err != nil {
		return rev, err
	}
	for _, k := range keys {
		u := used[k.ID]
		k.LastUsed = u.at
		if err := fn(store.Item{Key: &store.KeyItem{Key: k, LastHost: u.host}}); err != nil {
			return rev, err
		}
	}
	err = scan(s.auditPrefix(), func(_ string, v []byte) error {
		es, err := decodeAudit(v)
		if err != nil {
			return err
		}
		for i := range es {
			es[i].Time = es[i].Time.UTC()
			if err := fn(store.Item{Audit: &es[i]}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return rev, err
	}
	if err := s.exportUsage(scan, fn); err != nil {
		return rev, err
	}
	if err := s.exportHosts(scan, fn); err != nil {
		return rev, err
	}
	err = scan(s.alertsPrefix(), func(_ string, v []byte) error {
		a, err := decodeAlert(v)
		if err != nil {
			return err
		}
		return fn(store.Item{Alert: &a})
	})
	return rev, err
}

type scanFunc func(p string, f func(rest string, v []byte) error) error

// exportUsage passes the hourly days (summed over nodes) and the daily ones.
func (s *Store) exportUsage(scan scanFunc, fn func(store.Item) error) error {
	for _, total := range []bool{false, true} {
		p, parts := s.p+"u/h/", 3
		if total {
			p, parts = s.p+"u/t/", 2
		}
		var cur *store.UsageItem
		emit := func() error {
			if cur == nil {
				return nil
			}
			defer func() { cur = nil }()
			return fn(store.Item{Usage: cur})
		}
		err := scan(p, func(rest string, v []byte) error {
			f := strings.Split(rest, "/")
			if len(f) != parts {
				return fmt.Errorf("usage %s: %w", model.Escape(rest), errCorrupt)
			}
			day, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return fmt.Errorf("usage %s: %w", model.Escape(rest), errCorrupt)
			}
			id := ""
			if !total {
				id = f[1]
			}
			d, err := decodeDayRec(v)
			if err != nil {
				return fmt.Errorf("usage %s: %w", model.Escape(rest), err)
			}
			if cur == nil || cur.Day != day || cur.KeyID != id {
				if err := emit(); err != nil {
					return err
				}
				cur = &store.UsageItem{KeyID: id, Total: total, Day: day}
			}
			for h := range d {
				for i := range d[h] {
					cur.Hours[h][i] = satAdd(cur.Hours[h][i], d[h][i])
				}
			}
			return nil
		})
		if err == nil {
			err = emit()
		}
		if err != nil {
			return err
		}
		p = s.p + "u/d/"
		if total {
			p = s.p + "u/dt/"
		}
		err = scan(p, func(rest string, v []byte) error {
			bs, id, _ := strings.Cut(rest, "/")
			block, err := strconv.ParseInt(bs, 10, 64)
			if err != nil {
				return fmt.Errorf("daily usage %s: %w", model.Escape(rest), errCorrupt)
			}
			d, err := decodeDaysRec(v)
			if err != nil {
				return fmt.Errorf("daily usage %s: %w", model.Escape(rest), err)
			}
			for i, c := range d {
				if c == (counts{}) {
					continue
				}
				u := store.UsageItem{KeyID: id, Total: total, Day: block*blockDays + int64(i), Daily: true}
				u.Hours[0] = c
				if err := fn(store.Item{Usage: &u}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// exportHosts passes the refused hosts of each key and day, and the use of
// each link, summed over the nodes.
func (s *Store) exportHosts(scan scanFunc, fn func(store.Item) error) error {
	var id string
	day := int64(-1)
	merged := hostsRec{Hosts: map[string]hostCount{}}
	emit := func() error {
		for h, c := range merged.Hosts {
			if err := fn(store.Item{Refused: &store.RefusedItem{KeyID: id, Day: day, Host: h, Count: c.N, Last: c.Last}}); err != nil {
				return err
			}
		}
		if merged.Other.N > 0 {
			if err := fn(store.Item{Refused: &store.RefusedItem{KeyID: id, Day: day, Other: true, Count: merged.Other.N, Last: merged.Other.Last}}); err != nil {
				return err
			}
		}
		merged = hostsRec{Hosts: map[string]hostCount{}}
		return nil
	}
	merge := func(dst *hostsRec, r hostsRec) {
		for h, c := range r.Hosts {
			cur := dst.Hosts[h]
			dst.Hosts[h] = hostCount{N: satAdd(cur.N, c.N), Last: max(cur.Last, c.Last)}
		}
		dst.Other = hostCount{N: satAdd(dst.Other.N, r.Other.N), Last: max(dst.Other.Last, r.Other.Last)}
	}
	err := scan(s.p+"u/r/", func(rest string, v []byte) error {
		f := strings.Split(rest, "/")
		if len(f) != 3 {
			return fmt.Errorf("refused hosts %s: %w", model.Escape(rest), errCorrupt)
		}
		d, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return fmt.Errorf("refused hosts %s: %w", model.Escape(rest), errCorrupt)
		}
		r, err := decodeHosts(v)
		if err != nil {
			return fmt.Errorf("refused hosts %s: %w", model.Escape(rest), err)
		}
		if f[0] != id || d != day {
			if err := emit(); err != nil {
				return err
			}
			id, day = f[0], d
		}
		merge(&merged, r)
		return nil
	})
	if err == nil {
		err = emit()
	}
	if err != nil {
		return err
	}

	id = ""
	links := map[string]*store.MatchedItem{}
	emitLinks := func() error {
		for _, m := range links {
			if err := fn(store.Item{Matched: m}); err != nil {
				return err
			}
		}
		clear(links)
		return nil
	}
	err = scan(s.p+"u/m/", func(rest string, v []byte) error {
		f := strings.Split(rest, "/")
		if len(f) < 2 {
			return fmt.Errorf("matched hosts %s: %w", model.Escape(rest), errCorrupt)
		}
		if f[0] != id {
			if err := emitLinks(); err != nil {
				return err
			}
			id = f[0]
		}
		d := int64(-1) // the folded record
		if f[1] != "all" {
			if d, err = strconv.ParseInt(f[1], 10, 64); err != nil {
				return fmt.Errorf("matched hosts %s: %w", model.Escape(rest), errCorrupt)
			}
		}
		r, err := decodeHosts(v)
		if err != nil {
			return fmt.Errorf("matched hosts %s: %w", model.Escape(rest), err)
		}
		for h, c := range r.Hosts {
			m := links[h]
			if m == nil {
				m = &store.MatchedItem{KeyID: id, Host: h, Days: map[int64]uint64{}}
				links[h] = m
			}
			m.Count = satAdd(m.Count, c.N)
			m.Last = max(m.Last, c.Last)
			if d >= 0 {
				m.Days[d] = satAdd(m.Days[d], c.N)
			}
		}
		return nil
	})
	if err == nil {
		err = emitLinks()
	}
	return err
}

// HasData reports whether the prefix holds any data (keys, domains,
// tokens, audit, usage or alerts).
func (s *Store) HasData(ctx context.Context) (bool, error) {
	if err := s.check(ctx); err != nil {
		return false, err
	}
	for _, p := range dataPrefixes {
		cctx, cancel := s.reqCtx(ctx)
		resp, err := s.cli.Get(cctx, s.p+p, clientv3.WithPrefix(), clientv3.WithCountOnly())
		cancel()
		if err != nil {
			return false, s.mapErr(ctx, err)
		}
		if resp.Count > 0 {
			return true, nil
		}
	}
	return false, nil
}

// dataPrefixes are the parts of the layout that hold data (not the schema
// version, not the election).
var dataPrefixes = []string{"k/", "kh/", "d/", "dk/", "a/", "ao/", "t/", "th/", "u/", "al/", "ali/", "ald/", "meta/seq"}

// Wipe deletes every record of the store's data under its prefix (each
// part in one request), leaving the schema version and the election.
func (s *Store) Wipe(ctx context.Context) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	for _, p := range dataPrefixes {
		cctx, cancel := s.reqCtx(ctx)
		_, err := s.cli.Delete(cctx, s.p+p, clientv3.WithPrefix())
		cancel()
		if err != nil {
			return s.mapErr(ctx, err)
		}
	}
	return nil
}

// Import writes the items export passes (in a store.Exporter's order)
// into this store, which must hold no data (HasData). Usage, refused and
// matched hosts are written under this store's node id. Items are written
// many per transaction, in order; when it fails, part of the items may be
// written: check the source first (store.CheckExport), and run it again
// after Wipe. It returns what it wrote.
func (s *Store) Import(ctx context.Context, export func(fn func(store.Item) error) error) (store.DumpCounts, error) {
	var counts store.DumpCounts
	if has, err := s.HasData(ctx); err != nil {
		return counts, err
	} else if has {
		return counts, errors.New("the etcd prefix already holds a store")
	}
	var ops []clientv3.Op
	size := 0
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		cctx, cancel := s.reqCtx(ctx)
		resp, err := s.cli.Txn(cctx).Then(ops...).Commit()
		cancel()
		ops, size = ops[:0], 0
		if err != nil {
			return s.mapErr(ctx, err)
		}
		s.noteWrite(resp.Header.Revision)
		return nil
	}
	put := func(k string, v []byte) error {
		if len(ops) >= 100 || size+len(k)+len(v) > maxTxnBytes/2 {
			if err := flush(); err != nil {
				return err
			}
		}
		ops = append(ops, clientv3.OpPut(k, string(v)))
		size += len(k) + len(v)
		return nil
	}
	var maxSeq uint64
	daily := map[string]*daysRec{}
	refused := map[string]*hostsRec{}
	matched := map[string]*hostsRec{}
	hostsOf := func(m map[string]*hostsRec, k string) *hostsRec {
		r := m[k]
		if r == nil {
			r = &hostsRec{Hosts: map[string]hostCount{}}
			m[k] = r
		}
		return r
	}
	err := export(func(it store.Item) error {
		counts.Add(it)
		if err := ctx.Err(); err != nil {
			return err
		}
		switch {
		case it.Token != nil:
			t := *it.Token
			v, err := encodeToken(t)
			if err != nil {
				return err
			}
			if err := put(s.tokenKey(t.Name), v); err != nil {
				return err
			}
			return put(s.tokenDigestKey(t.Digest), []byte(t.Name))
		case it.Domain != nil:
			return put(s.domainKey(it.Domain.Name), encodeDomain(*it.Domain))
		case it.Key != nil:
			k := it.Key.Key.Clone()
			k.LastUsed = time.Time{}
			for _, d := range k.Domains {
				if err := put(s.linkKey(d, k.ID), nil); err != nil {
					return err
				}
			}
			if err := put(s.keyKey(k.ID), encodeKey(&k)); err != nil {
				return err
			}
			if err := put(s.digestKey(k.Digest), []byte(k.ID)); err != nil {
				return err
			}
			if !it.Key.Key.LastUsed.IsZero() {
				return put(s.lastUsedKey(k.ID), lastUse{at: it.Key.Key.LastUsed.UTC(), host: it.Key.LastHost}.encode())
			}
			return nil
		case it.Audit != nil:
			e := *it.Audit
			maxSeq = max(maxSeq, e.Seq)
			v, err := json.Marshal([]model.AuditEntry{e})
			if err != nil {
				return err
			}
			if err := put(s.auditKey(e.Seq), v); err != nil {
				return err
			}
			return put(s.auditObjectKey(e.Object, e.Seq), nil)
		case it.Usage != nil:
			u := it.Usage
			if u.Daily {
				k := s.dailyKey(u.Day, u.KeyID)
				if u.Total {
					k = s.dailyTotalKey(u.Day)
				}
				d := daily[k]
				if d == nil {
					d = &daysRec{}
					daily[k] = d
				}
				d[u.Day%blockDays] = u.Hours[0]
				return nil
			}
			var d dayRec
			for h := range d {
				d[h] = u.Hours[h]
			}
			k := s.dayKey(u.Day, u.KeyID)
			if u.Total {
				k = s.totalKey(u.Day)
			}
			return put(k, d.encode())
		case it.Refused != nil:
			r := it.Refused
			rec := hostsOf(refused, s.refusedKey(r.KeyID, r.Day))
			if r.Other {
				rec.Other = hostCount{N: r.Count, Last: r.Last}
			} else {
				rec.Hosts[r.Host] = hostCount{N: r.Count, Last: r.Last}
			}
			return nil
		case it.Matched != nil:
			m := it.Matched
			var inDays uint64
			for day, n := range m.Days {
				hostsOf(matched, s.matchedKey(m.KeyID, day)).Hosts[m.Host] = hostCount{N: n, Last: m.Last}
				inDays += n
			}
			if m.Count > inDays {
				hostsOf(matched, s.matchedAllKey(m.KeyID)).Hosts[m.Host] = hostCount{N: m.Count - inDays, Last: m.Last}
			}
			return nil
		case it.Alert != nil:
			a := *it.Alert
			v, err := encodeAlert(a)
			if err != nil {
				return err
			}
			suffix := invTime(a.Time) + a.ID
			if err := put(s.alertsPrefix()+suffix, v); err != nil {
				return err
			}
			if err := put(s.p+"ali/"+a.ID, []byte(suffix)); err != nil {
				return err
			}
			return put(s.p+"ald/"+a.Dedup, []byte(a.ID))
		}
		return nil
	})
	if err != nil {
		return counts, err
	}
	for k, d := range daily {
		if err := put(k, d.encode()); err != nil {
			return counts, err
		}
	}
	for _, m := range []map[string]*hostsRec{refused, matched} {
		for k, r := range m {
			if err := put(k, r.encode()); err != nil {
				return counts, err
			}
		}
	}
	if maxSeq > 0 {
		if err := put(s.seqKey(), []byte(strconv.FormatUint(maxSeq, 10))); err != nil {
			return counts, err
		}
	}
	return counts, flush()
}
