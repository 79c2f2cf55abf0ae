package etcd

import (
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/tmaps/console/model"
)

// The etcd keys of the layout (see the package comment).

func (s *Store) seqKey() string              { return s.p + "meta/seq" }
func (s *Store) keyKey(id string) string     { return s.p + "k/" + id }
func (s *Store) keysPrefix() string          { return s.p + "k/" }
func (s *Store) domainKey(n string) string   { return s.p + "d/" + n }
func (s *Store) domainsPrefix() string       { return s.p + "d/" }
func (s *Store) linksPrefix(n string) string { return s.p + "dk/" + n + "/" }
func (s *Store) linkKey(n, id string) string { return s.p + "dk/" + n + "/" + id }
func (s *Store) tokenKey(name string) string { return s.p + "t/" + name }
func (s *Store) tokensPrefix() string        { return s.p + "t/" }
func (s *Store) auditPrefix() string         { return s.p + "a/" }
func (s *Store) digestKey(d model.Digest) string {
	return s.p + "kh/" + hex.EncodeToString(d[:])
}
func (s *Store) tokenDigestKey(d model.Digest) string {
	return s.p + "th/" + hex.EncodeToString(d[:])
}

// invSeq is seq with every bit flipped, in fixed-width hex: ascending key
// order is descending seq order.
func invSeq(seq uint64) string { return fmt.Sprintf("%016x", ^seq) }

// seqOfInv reads invSeq back.
func seqOfInv(s string) (uint64, bool) {
	v, err := strconv.ParseUint(s, 16, 64)
	return ^v, err == nil && len(s) == 16
}

// auditKey is the record of the change whose first entry has seq.
func (s *Store) auditKey(seq uint64) string { return s.p + "a/" + invSeq(seq) }

// auditObjectPrefix holds the index keys of one object's changes.
func (s *Store) auditObjectPrefix(object string) string { return s.p + "ao/" + object + "\x00" }

func (s *Store) auditObjectKey(object string, seq uint64) string {
	return s.auditObjectPrefix(object) + invSeq(seq)
}

// dayName is a UTC day number in the fixed width that sorts.
func dayName(day int64) string { return fmt.Sprintf("%06d", day) }
