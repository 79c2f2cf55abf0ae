package bolt

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	bbolt "go.etcd.io/bbolt"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

var _ store.Exporter = (*Store)(nil)

// Export implements store.Exporter: the whole file as of one read
// transaction.
func (s *Store) Export(ctx context.Context, fn func(store.Item) error) error {
	return s.view(ctx, func(tx *bbolt.Tx) error { return exportTx(ctx, tx, fn) })
}

func exportTx(ctx context.Context, tx *bbolt.Tx, fn func(store.Item) error) error {
	err := tx.Bucket(bTokens).ForEach(func(k, v []byte) error {
		t, err := decodeToken(string(k), v)
		if err != nil {
			return err
		}
		return fn(store.Item{Token: &t})
	})
	if err != nil {
		return err
	}
	err = tx.Bucket(bDomains).ForEach(func(k, v []byte) error {
		d, err := decodeDomain(string(k), v)
		if err != nil {
			return err
		}
		d.Keys = nil
		return fn(store.Item{Domain: &d})
	})
	if err != nil {
		return err
	}
	c := tx.Bucket(bKeys).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != 8 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := decodeKey(binary.BigEndian.Uint64(k), v)
		if err != nil {
			return fmt.Errorf("key #%x: %w", k, err)
		}
		it := store.KeyItem{Key: fullKey(tx, r), LastHost: r.lastHost}
		if err := fn(store.Item{Key: &it}); err != nil {
			return err
		}
	}
	err = tx.Bucket(bAudit).ForEach(func(k, v []byte) error {
		var e model.AuditEntry
		if err := json.Unmarshal(v, &e); err != nil || len(k) != 8 {
			return fmt.Errorf("audit entry %x: %w", k, errCorrupt)
		}
		e.Seq = binary.BigEndian.Uint64(k)
		e.Time = e.Time.UTC()
		return fn(store.Item{Audit: &e})
	})
	if err != nil {
		return err
	}
	for _, b := range []struct {
		name         []byte
		total, daily bool
	}{{bUsage, false, false}, {bUsageTotal, true, false}, {bUsageDaily, false, true}, {bUsageTotalDaily, true, true}} {
		err := tx.Bucket(b.name).ForEach(func(k, v []byte) error {
			if len(k) < 4 {
				return fmt.Errorf("usage %x: %w", k, errCorrupt)
			}
			d, err := decodeDay(v)
			if err != nil {
				return fmt.Errorf("usage %x: %w", k, err)
			}
			u := store.UsageItem{KeyID: string(k[4:]), Total: b.total, Day: int64(keyDay(k)), Daily: b.daily}
			for h := range d {
				u.Hours[h] = d[h]
			}
			return fn(store.Item{Usage: &u})
		})
		if err != nil {
			return err
		}
	}
	err = tx.Bucket(bRefusedDays).ForEach(func(k, v []byte) error {
		id, rest, ok := bytes.Cut(k, []byte{0})
		r, good := decodeRefused(v)
		if !ok || len(rest) < 4 || !good {
			return fmt.Errorf("refused host %x: %w", k, errCorrupt)
		}
		host := string(rest[4:])
		it := store.RefusedItem{KeyID: string(id), Day: int64(binary.BigEndian.Uint32(rest)), Host: host, Other: host == "", Count: r.count, Last: r.last}
		return fn(store.Item{Refused: &it})
	})
	if err != nil {
		return err
	}
	err = tx.Bucket(bMatched).ForEach(func(k, v []byte) error {
		id, host, ok := bytes.Cut(k, []byte{0})
		if !ok {
			return fmt.Errorf("matched host %x: %w", k, errCorrupt)
		}
		r := decodeMatched(v)
		it := store.MatchedItem{KeyID: string(id), Host: string(host), Count: r.count, Last: r.last, Days: map[int64]uint64{}}
		for _, d := range r.days {
			if d.count > 0 {
				it.Days[int64(d.day)] = d.count
			}
		}
		return fn(store.Item{Matched: &it})
	})
	if err != nil {
		return err
	}
	return tx.Bucket(bAlerts).ForEach(func(_, v []byte) error {
		a, err := getAlert(v)
		if err != nil {
			return err
		}
		return fn(store.Item{Alert: &a})
	})
}

// importBatch is how many items one write transaction of Import takes.
const importBatch = 2000

// Import writes a new store file at path from the items export passes
// (a store.Exporter's Export, or any source in its order: domains before
// the keys linked to them). It builds a temporary file beside path,
// checks it, and renames it over path only when all went well: an export
// that fails, or bad items, leave path as it was. An existing path is
// replaced only with force (ErrExists otherwise). It returns what it wrote.
func Import(ctx context.Context, path string, force bool, export func(fn func(store.Item) error) error) (store.DumpCounts, error) {
	var counts store.DumpCounts
	if _, err := os.Stat(path); err == nil && !force {
		return counts, ErrExists
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return counts, err
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(dir, ".tmaps-import-"+hex.EncodeToString(rnd[:]))
	st, err := Open(tmp, Options{NoSync: true})
	if err != nil {
		return counts, err
	}
	ok := false
	defer func() {
		if !ok {
			st.Close()
			os.Remove(tmp)
		}
	}()
	var batch []store.Item
	var maxSeq uint64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := st.db.Update(func(tx *bbolt.Tx) error {
			for _, it := range batch {
				if err := importItem(tx, it); err != nil {
					return err
				}
				if it.Audit != nil {
					maxSeq = max(maxSeq, it.Audit.Seq)
				}
			}
			return nil
		})
		batch = batch[:0]
		return err
	}
	err = export(func(it store.Item) error {
		counts.Add(it)
		batch = append(batch, it)
		if len(batch) >= importBatch {
			return flush()
		}
		return ctx.Err()
	})
	if err == nil {
		err = flush()
	}
	if err == nil {
		err = st.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bAudit).SetSequence(maxSeq) })
	}
	if err == nil {
		err = st.db.Sync()
	}
	if err != nil {
		return counts, err
	}
	if err := st.Close(); err != nil {
		return counts, err
	}
	if _, err := Verify(tmp); err != nil {
		return counts, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return counts, err
	}
	ok = true
	return counts, SyncDir(dir)
}

// importItem writes one item as the store's own records.
func importItem(tx *bbolt.Tx, it store.Item) error {
	switch {
	case it.Token != nil:
		t := *it.Token
		v, err := encodeToken(t)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bTokens).Put([]byte(t.Name), v); err != nil {
			return err
		}
		return tx.Bucket(bTokenDigests).Put(t.Digest[:], []byte(t.Name))
	case it.Domain != nil:
		d := it.Domain
		if d.Name == "" {
			return &invalid{errors.New("a domain without a name")}
		}
		v, err := json.Marshal(domainRecord{Unicode: d.Unicode, Created: d.Created.UTC()})
		if err != nil {
			return err
		}
		return tx.Bucket(bDomains).Put([]byte(d.Name), v)
	case it.Key != nil:
		k := it.Key.Key
		if k.ID == "" || tx.Bucket(bKeyIDs).Get([]byte(k.ID)) != nil {
			return &invalid{fmt.Errorf("key id %q is empty or twice in the source", model.Escape(k.ID))}
		}
		keys := tx.Bucket(bKeys)
		seq, err := keys.NextSequence()
		if err != nil {
			return err
		}
		doms := k.Domains
		k.Domains = nil
		r := keyRecord{seq: seq, key: k, lastHost: it.Key.LastHost}
		if err := putKey(tx, &r); err != nil {
			return err
		}
		if err := tx.Bucket(bKeyIDs).Put([]byte(k.ID), u64(seq)); err != nil {
			return err
		}
		if err := tx.Bucket(bKeyDigests).Put(k.Digest[:], u64(seq)); err != nil {
			return err
		}
		for _, d := range doms {
			if tx.Bucket(bDomains).Get([]byte(d)) == nil {
				return &invalid{fmt.Errorf("key %s is linked to %s, a domain the source does not have", k.ID, model.Escape(d))}
			}
			if err := link(tx, r, d); err != nil {
				return err
			}
		}
		return nil
	case it.Audit != nil:
		e := *it.Audit
		v, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bAudit).Put(u64(e.Seq), v); err != nil {
			return err
		}
		return tx.Bucket(bAuditObjects).Put(objectKey(e.Object, e.Seq), nil)
	case it.Usage != nil:
		u := it.Usage
		name := map[[2]bool][]byte{{false, false}: bUsage, {true, false}: bUsageTotal, {false, true}: bUsageDaily, {true, true}: bUsageTotalDaily}[[2]bool{u.Total, u.Daily}]
		var d dayRecord
		for h := range d {
			d[h] = u.Hours[h]
		}
		id := u.KeyID
		if u.Total {
			id = ""
		}
		return tx.Bucket(name).Put(dayKey(uint64(u.Day), id), d.encode())
	case it.Refused != nil:
		r := it.Refused
		host := r.Host
		if r.Other {
			host = ""
		}
		k := append(refusedPrefix(r.KeyID, r.Day), host...)
		return tx.Bucket(bRefusedDays).Put(k, refusedRecord{count: r.Count, last: r.Last}.encode())
	case it.Matched != nil:
		m := it.Matched
		rec := matchedRecord{count: m.Count, last: m.Last}
		for day, n := range m.Days {
			s := &rec.days[uint32(day)%matchedDays]
			if uint32(day) > s.day {
				s.day, s.count = uint32(day), n
			}
		}
		return tx.Bucket(bMatched).Put(append([]byte(m.KeyID+"\x00"), m.Host...), rec.encode())
	case it.Alert != nil:
		_, _, err := addAlert(tx, *it.Alert)
		return err
	}
	return nil
}
