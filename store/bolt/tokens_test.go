package bolt

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// TestTokenRecordsFromBeforeRoles: a token written before roles existed
// (no "r" in its record) is an admin after the upgrade; a record with a
// role that is not one is corrupt, not an admin.
func TestTokenRecordsFromBeforeRoles(t *testing.T) {
	secret := "tm_0123456789abcdef0123456789abcdef"
	d := model.DigestOf(secret)
	old := `{"p":"tm_01234567","d":"` + d.String() + `","c":"2025-03-01T10:00:00Z"}`
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Write the record as the previous version did.
	err = s.db.Update(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bTokens).Put([]byte("legacy"), []byte(old)); err != nil {
			return err
		}
		return tx.Bucket(bTokenDigests).Put(d[:], []byte("legacy"))
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := store.WithActor(context.Background(), "t")
	tok, err := s.TokenByDigest(c, d)
	if err != nil || tok.Name != "legacy" || tok.Role != model.RoleAdmin || tok.Prefix != "tm_01234567" {
		t.Fatalf("old token = %+v, %v; want an admin", tok, err)
	}
	// Its role can be changed, and the new record keeps it.
	if _, err := s.SetTokenRole(c, "legacy", model.RoleAuditor); err != nil {
		t.Fatal(err)
	}
	if tok, _ := s.TokenByDigest(c, d); tok.Role != model.RoleAuditor {
		t.Fatalf("after set-role: %+v", tok)
	}

	if _, err := decodeToken("x", []byte(`{"p":"tm_01234567","d":"`+d.String()+`","c":"2025-03-01T10:00:00Z","r":"root"}`)); !errors.Is(err, errCorrupt) {
		t.Fatalf("a bad role decoded: %v", err)
	}
}
