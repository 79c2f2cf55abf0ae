package store

import "testing"

// The counts a migration prints agree with their numbers ("1 key", not
// "1 keys").
func TestDumpCountsSayOneAndMany(t *testing.T) {
	got := DumpCounts{Keys: 1, Domains: 2, Audit: 1}.String()
	want := "1 key, 2 domains, 0 links, 1 audit entry, 0 tokens, 0 usage days, 0 refused hosts, 0 matched hosts, 0 alerts"
	if got != want {
		t.Fatalf("%q\nwant %q", got, want)
	}
}
