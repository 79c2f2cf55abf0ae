package model

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkHygiene100k is the hygiene report of 100,000 keys (three in
// eight linked to one of 200 domains, none used: about 62,000 findings)
// from the keys alone, as the console's Hygiene view makes it first.
func BenchmarkHygiene100k(b *testing.B) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	doms := make([]Domain, 200)
	for i := range doms {
		doms[i] = Domain{Name: fmt.Sprintf("site%03d.example.tn", i), Created: now.AddDate(0, -1, 0)}
	}
	keys := make([]Key, 100_000)
	for i := range keys {
		keys[i] = Key{ID: fmt.Sprintf("k%012x", i), Name: fmt.Sprintf("customer %d web app", i), Status: Active,
			Created: now.Add(-time.Duration(i+48*60) * time.Minute)}
		if i%8 < 3 {
			d := &doms[i%len(doms)]
			keys[i].Domains = []string{d.Name}
			d.Keys = append(d.Keys, keys[i].ID)
		}
	}
	in := HygieneInput{Keys: keys, Domains: doms, Now: now}
	n := 0
	for b.Loop() {
		n = len(Hygiene(in))
	}
	b.ReportMetric(float64(n), "findings")
}
