package bolt

import (
	"testing"
	"time"

	"github.com/tmaps/console/model"
)

func TestKeyRecordRoundTrip(t *testing.T) {
	secret := model.NewSecret()
	for _, r := range []keyRecord{
		{seq: 1, key: model.Key{ID: "k0123456789ab", Name: "héllo wörld", Prefix: model.DisplayPrefix(secret),
			Digest: model.DigestOf(secret), Status: model.Disabled,
			Created: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), StatusChanged: time.Date(1969, 12, 31, 0, 0, 0, 1, time.UTC),
			LastUsed: time.Unix(0, 1<<62).UTC(), Replaces: "kaaaaaaaaaaaa", ReplacedBy: "kbbbbbbbbbbbb"}, lastHost: "mysite.tn"},
		{seq: 2, key: model.Key{ID: "k1", Status: model.Revoked}},
		{seq: 3, key: model.Key{ID: "k2", Name: string(make([]byte, 300)), Status: model.Active}},
	} {
		got, err := decodeKey(r.seq, encodeKey(&r))
		if err != nil {
			t.Fatal(err)
		}
		if got.seq != r.seq || got.lastHost != r.lastHost || got.key.ID != r.key.ID || got.key.Name != r.key.Name ||
			got.key.Prefix != r.key.Prefix || got.key.Digest != r.key.Digest || got.key.Status != r.key.Status ||
			!got.key.Created.Equal(r.key.Created) || !got.key.StatusChanged.Equal(r.key.StatusChanged) ||
			!got.key.LastUsed.Equal(r.key.LastUsed) || got.key.Replaces != r.key.Replaces || got.key.ReplacedBy != r.key.ReplacedBy {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
		}
		// Every truncation is an error, never a panic.
		enc := encodeKey(&r)
		for i := range enc {
			if _, err := decodeKey(r.seq, enc[:i]); err == nil {
				t.Fatalf("truncated record (%d of %d bytes) decoded without error", i, len(enc))
			}
		}
	}
}

func TestDayRecordRoundTrip(t *testing.T) {
	var d dayRecord
	d[0] = counters{1, 2, 3}
	d[13] = counters{1 << 40, 0, 7}
	d[23] = counters{0, 0, 1}
	enc := d.encode()
	got, err := decodeDay(enc)
	if err != nil || got != d {
		t.Fatalf("round trip: %v, %v", got, err)
	}
	if len(enc) > 3+9+3*3 {
		t.Fatalf("encoding is %d bytes, want it compact", len(enc))
	}
	var empty dayRecord
	if e := empty.encode(); len(e) != 3 {
		t.Fatalf("empty day is %d bytes", len(e))
	}
	for i := 3; i < len(enc); i++ {
		if _, err := decodeDay(enc[:i]); err == nil {
			t.Fatalf("truncated day record (%d bytes) decoded", i)
		}
	}
}

// FuzzDecode feeds arbitrary bytes to the record decoders: a corrupt file
// gives errors, never a panic.
func FuzzDecode(f *testing.F) {
	r := keyRecord{seq: 1, key: model.Key{ID: "k0123456789ab", Name: "n", Status: model.Active, Created: time.Unix(1, 0)}}
	f.Add(encodeKey(&r))
	d := dayRecord{3: counters{1, 2, 3}}
	f.Add(d.encode())
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := decodeKey(1, b); err == nil {
			// What decodes re-encodes to something that decodes the same.
			again, err := decodeKey(1, encodeKey(&r))
			if err != nil || again.key.ID != r.key.ID || again.key.Name != r.key.Name || again.lastHost != r.lastHost {
				t.Fatalf("re-encoding changed the record: %+v / %+v, %v", r, again, err)
			}
		}
		if d, err := decodeDay(b); err == nil {
			if again, err := decodeDay(d.encode()); err != nil || again != d {
				t.Fatalf("day record re-encoding changed it")
			}
		}
	})
}
