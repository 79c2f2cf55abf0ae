package bolt

import (
	"encoding/hex"
	"net/netip"
	"slices"
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
		{seq: 4, key: model.Key{ID: "k3", Status: model.Active, Policy: model.Policy{
			Kind: model.KindMobile, Expires: time.Date(2027, 1, 1, 0, 0, 0, 5, time.UTC),
			AllowIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("203.0.113.7/32"),
				netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("::/0")},
			Rate: 0.25, Burst: 1 << 20, Quota: 1 << 50, Owner: "Équipe", Note: "a note"}}},
		{seq: 5, key: model.Key{ID: "k4", Status: model.Disabled, Leaked: time.Date(2026, 6, 1, 2, 3, 4, 5, time.UTC),
			LeakURL: "https://github.com/octo/repo/blob/0123/.env"}},
	} {
		got, err := decodeKey(r.seq, encodeKey(&r))
		if err != nil {
			t.Fatal(err)
		}
		if got.seq != r.seq || got.lastHost != r.lastHost || got.key.ID != r.key.ID || got.key.Name != r.key.Name ||
			got.key.Prefix != r.key.Prefix || got.key.Digest != r.key.Digest || got.key.Status != r.key.Status ||
			!got.key.Created.Equal(r.key.Created) || !got.key.StatusChanged.Equal(r.key.StatusChanged) ||
			!got.key.LastUsed.Equal(r.key.LastUsed) || got.key.Replaces != r.key.Replaces || got.key.ReplacedBy != r.key.ReplacedBy ||
			!samePolicy(got.key.Policy, r.key.Policy) || !got.key.Leaked.Equal(r.key.Leaked) || got.key.LeakURL != r.key.LeakURL {
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

func samePolicy(a, b model.Policy) bool {
	return a.Kind == b.Kind && a.Expires.Equal(b.Expires) && slices.Equal(a.AllowIPs, b.AllowIPs) &&
		a.Rate == b.Rate && a.Burst == b.Burst && a.Quota == b.Quota && a.Owner == b.Owner && a.Note == b.Note
}

// v1Record is a key record as stores made before key policies wrote it
// (version 1), captured from that encoder.
const v1Record = "010d6b3031323334353637383961620a4c6567616379207765620b616b5f3030303130323033000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0180d8ddffcacbc0a93080e0b3e79cc5abb33080e891badc99efbc300d6b61616161616161616161616100096d79736974652e746e"

// TestKeyRecordV1 reads a record of a store made before key policies: the
// key decodes with no policy, and re-encoding it keeps every field.
func TestKeyRecordV1(t *testing.T) {
	b, err := hex.DecodeString(v1Record)
	if err != nil {
		t.Fatal(err)
	}
	r, err := decodeKey(7, b)
	if err != nil {
		t.Fatalf("a version 1 record no longer decodes: %v", err)
	}
	k := r.key
	if k.ID != "k0123456789ab" || k.Name != "Legacy web" || k.Prefix != "ak_00010203" || k.Digest[31] != 31 ||
		k.Status != model.Disabled || !k.Created.Equal(time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)) ||
		!k.LastUsed.Equal(time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)) || k.Replaces != "kaaaaaaaaaaaa" || r.lastHost != "mysite.tn" {
		t.Fatalf("version 1 record decoded as %+v", r)
	}
	if !samePolicy(k.Policy, model.Policy{}) || k.AllowIPs != nil {
		t.Fatalf("a version 1 key has a policy: %+v", k.Policy)
	}
	enc := encodeKey(&r)
	if enc[0] != keyRecordVersion {
		t.Fatalf("re-encoded as version %d", enc[0])
	}
	again, err := decodeKey(7, enc)
	if err != nil || again.key.Name != k.Name || again.lastHost != r.lastHost || !again.key.LastUsed.Equal(k.LastUsed) {
		t.Fatalf("re-encoded v1 record: %+v, %v", again, err)
	}
	// Bytes after a complete record are corruption, not ignored.
	if _, err := decodeKey(7, append(b, 0)); err == nil {
		t.Fatal("a version 1 record with a trailing byte decoded")
	}
	if _, err := decodeKey(7, append([]byte{4}, b[1:]...)); err == nil {
		t.Fatal("an unknown record version decoded")
	}
}

func TestKeyRecordPolicyCorrupt(t *testing.T) {
	r := keyRecord{seq: 1, key: model.Key{ID: "k", Policy: model.Policy{AllowIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}}
	enc := encodeKey(&r)
	// Find the allowlist entry (family 4, 10.0.0.0, bits 8) and break it.
	i := slices.Index(enc, 10)
	if i < 1 || enc[i-1] != 4 || enc[i+4] != 8 {
		t.Fatalf("allowlist entry not found in %x", enc)
	}
	for name, mut := range map[string]func(b []byte){
		"bits over 32":   func(b []byte) { b[i+4] = 33 },
		"host bits set":  func(b []byte) { b[i+3] = 1 },
		"unknown family": func(b []byte) { b[i-1] = 5 },
		"unknown kind":   func(b []byte) { b[i-1-1-1-1] = 9 }, // kind, expires (0), count (1), family
		"huge ip count":  func(b []byte) { b[i-2] = 0x7f },
	} {
		b := slices.Clone(enc)
		mut(b)
		if _, err := decodeKey(1, b); err == nil {
			t.Errorf("%s: decoded without error", name)
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
	for i := 3; i < len(enc); i++ {
		if _, err := decodeDay(enc[:i]); err == nil {
			t.Fatalf("truncated day record (%d bytes) decoded", i)
		}
	}
	// 429s: an hour with only 429s, an hour with everything. They follow
	// the older part, so a cut exactly there reads as a day without 429s
	// (bbolt never tears a record); any other cut is an error.
	first := len(enc)
	d[5] = counters{0, 0, 0, 9}
	d[13][3] = 1 << 33
	enc = d.encode()
	if got, err := decodeDay(enc); err != nil || got != d {
		t.Fatalf("round trip with 429s: %v, %v", got, err)
	}
	for i := first + 1; i < len(enc); i++ {
		if _, err := decodeDay(enc[:i]); err == nil {
			t.Fatalf("truncated day record with 429s (%d bytes) decoded", i)
		}
	}
	// A day written before 429s were counted reads the same.
	old, _ := hex.DecodeString("040080050102070000")
	if got, err := decodeDay(old); err != nil || got[2] != (counters{5, 1, 2, 0}) || got[23] != (counters{7, 0, 0, 0}) {
		t.Fatalf("day record without 429s: %v, %v", got, err)
	}
	var empty dayRecord
	if e := empty.encode(); len(e) != 3 {
		t.Fatalf("empty day is %d bytes", len(e))
	}
}

// FuzzDecode feeds arbitrary bytes to the record decoders: a corrupt file
// gives errors, never a panic.
func FuzzDecode(f *testing.F) {
	r := keyRecord{seq: 1, key: model.Key{ID: "k0123456789ab", Name: "n", Status: model.Active, Created: time.Unix(1, 0)}}
	f.Add(encodeKey(&r))
	d := dayRecord{3: counters{1, 2, 3}, 4: counters{0, 0, 0, 5}}
	f.Add(d.encode())
	p := keyRecord{seq: 1, key: model.Key{ID: "k", Policy: model.Policy{Kind: model.KindServer, Rate: 1, Burst: 2, Quota: 3,
		AllowIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}, Owner: "o", Note: "n"}}}
	f.Add(encodeKey(&p))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := decodeKey(1, b); err == nil {
			// What decodes re-encodes to something that decodes the same.
			again, err := decodeKey(1, encodeKey(&r))
			if err != nil || again.key.ID != r.key.ID || again.key.Name != r.key.Name || again.lastHost != r.lastHost ||
				!samePolicy(again.key.Policy, r.key.Policy) && r.key.Rate == r.key.Rate { // NaN rates compare unequal
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

// v2Record is a key record as stores made before leak marks wrote it
// (version 2), captured from that encoder.
const v2Record = "020d6b3031323334353637383961620a506f6c696379207765620b616b5f3030303130323033000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0080d8f5d9b0c0c5993100000000096d79736974652e746e018080e8b9a389bef63101040a0000000840140000000000000ae807036f7073016e"

// TestKeyRecordV2 reads a record of a store made before leak marks: its
// policy is kept and the key was never leaked.
func TestKeyRecordV2(t *testing.T) {
	b, err := hex.DecodeString(v2Record)
	if err != nil {
		t.Fatal(err)
	}
	r, err := decodeKey(9, b)
	if err != nil {
		t.Fatalf("a version 2 record no longer decodes: %v", err)
	}
	k := r.key
	if k.Name != "Policy web" || k.Kind != model.KindBrowser || k.Quota != 1000 || k.Note != "n" || r.lastHost != "mysite.tn" ||
		len(k.AllowIPs) != 1 || !k.Expires.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("version 2 record decoded as %+v", r)
	}
	if !k.Leaked.IsZero() || k.LeakURL != "" {
		t.Fatalf("a version 2 key is leaked: %+v", k)
	}
	if _, err := decodeKey(9, append(b, 0)); err == nil {
		t.Fatal("a version 2 record with a trailing byte decoded")
	}
	again, err := decodeKey(9, encodeKey(&r))
	if err != nil || !samePolicy(again.key.Policy, k.Policy) || again.key.Name != k.Name {
		t.Fatalf("re-encoded v2 record: %+v, %v", again, err)
	}
}
