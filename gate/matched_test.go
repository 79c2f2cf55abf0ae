package gate

import (
	"context"
	"testing"
	"time"

	"github.com/tmaps/console/model"
)

// Allowed requests are counted per matched host and hour; requests allowed
// without a matched host (no headers, unrestricted key) are not.
func TestMatchedHostsPerHour(t *testing.T) {
	m := &memStore{}
	k, secret := memKey("k1", model.Active, "mysite.tn", "app.mysite.tn")
	m.add(k)
	open, openSecret := memKey("k2", model.Active)
	m.add(open)
	now := time.Date(2026, 1, 2, 3, 59, 0, 0, time.UTC)
	g := newMemGate(t, m, Options{Now: func() time.Time { return now }})
	for range 3 {
		g.Decide(call(tile(secret), "Origin", "https://mysite.tn"))
	}
	g.Decide(call(tile(secret), "Origin", "https://MySite.TN:8443")) // same host, other case
	g.Decide(call(tile(secret), "Referer", "https://app.mysite.tn/page"))
	g.Decide(call(tile(secret), "Origin", "https://mysite.tn"))
	g.Decide(call(tile(secret)))                                           // no headers: allowed, no host
	g.Decide(call(tile(openSecret), "Origin", "https://anything.example")) // unrestricted: no host
	now = now.Add(2 * time.Minute)                                         // the next hour
	g.Decide(call(tile(secret), "Origin", "https://mysite.tn"))
	if err := g.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	h3, h4 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC), time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)
	got := map[time.Time]map[string]uint64{}
	for _, d := range m.usage {
		if d.KeyID == "k2" && len(d.MatchedHosts) > 0 {
			t.Errorf("unrestricted key counted a matched host: %+v", d)
		}
		if d.KeyID == "k1" {
			got[d.Hour] = d.MatchedHosts
		}
	}
	if got[h3]["mysite.tn"] != 5 || got[h3]["app.mysite.tn"] != 1 || len(got[h3]) != 2 {
		t.Errorf("hour 3: %v", got[h3])
	}
	if got[h4]["mysite.tn"] != 1 || len(got[h4]) != 1 {
		t.Errorf("hour 4: %v", got[h4])
	}
	// A second flush has nothing more to say about matched hosts.
	m.usage = nil
	g.Decide(call(tile(secret), "Origin", "https://mysite.tn"))
	if err := g.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, d := range m.usage {
		if d.KeyID == "k1" && d.Hour.Equal(h4) && d.MatchedHosts["mysite.tn"] != 1 {
			t.Errorf("after the second flush: %+v", d)
		}
	}
}
