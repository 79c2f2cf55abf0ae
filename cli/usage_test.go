package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/demo"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

func TestUsageDemoTotalMarksTheSpikingKey(t *testing.T) {
	e := newEnv(t)
	r := e.must("--demo", "usage", "--json")
	var u usageJSON
	if err := json.Unmarshal([]byte(r.stdout), &u); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if u.Key != nil || u.By != "day" || len(u.Buckets) < 30 || len(u.Buckets) > 32 {
		t.Fatalf("key %v, by %q, %d buckets", u.Key, u.By, len(u.Buckets))
	}
	var sum uint64
	for _, b := range u.Buckets {
		sum += b.Total
		if b.Total != b.Allowed+b.Unauthorized+b.Forbidden+b.Limited {
			t.Fatalf("bucket total %+v", b)
		}
	}
	if sum != u.Totals.Total || sum == 0 {
		t.Errorf("buckets sum to %d, totals say %d", sum, u.Totals.Total)
	}
	var spiking []string
	for _, k := range u.Keys {
		if k.Spike.Spiking {
			spiking = append(spiking, k.Name+"/"+k.Status)
		}
	}
	if len(spiking) != 1 || spiking[0] != demo.SpikeKey+"/active" {
		t.Errorf("spiking keys = %v, want only %q (active)", spiking, demo.SpikeKey)
	}
}

func TestUsageOneKeyHourlyWithRefusedHosts(t *testing.T) {
	e := newEnv(t)
	r := e.must("--demo", "usage", demo.LeakyKey, "--since", "24h", "--json")
	var u usageJSON
	if err := json.Unmarshal([]byte(r.stdout), &u); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if u.Key == nil || u.Key.Name != demo.LeakyKey || u.By != "hour" {
		t.Fatalf("key %v by %q", u.Key, u.By)
	}
	if n := len(u.Buckets); n < 24 || n > 25 {
		t.Errorf("%d hourly buckets for 24h", n)
	}
	if len(u.Refused) == 0 || u.Refused[0].Count == 0 || u.Refused[0].Host == "" {
		t.Fatalf("refused hosts = %+v", u.Refused)
	}
	if u.Totals.Forbidden == 0 {
		t.Error("the leaky key has no 403 in the last 24h")
	}
	if u.Spike.Spiking {
		t.Errorf("the leaky key is not the spiking one: %+v", u.Spike)
	}
	// Text output for scripts: one tab-separated line per bucket.
	r = e.must("--demo", "usage", demo.LeakyKey, "--since", "24h")
	if !strings.Contains(r.stdout, "souk-digital-clone.com\t") {
		t.Errorf("refused host missing from text output:\n%s", r.stdout)
	}
}

func TestUsageBadFlags(t *testing.T) {
	e := newEnv(t)
	e.want(e.run("usage", "--since", "yesterday"), ExitUsage, "--since")
	e.want(e.run("usage", "--since", "-3h"), ExitUsage, "--since")
	e.want(e.run("usage", "--by", "week"), ExitUsage, "hour or day")
	e.want(e.run("usage", "--by", "hour", "--since", "60d"), ExitUsage, "at most 31 days")
	e.want(e.run("usage", "nope"), ExitRefused, "")
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"24h": now.Add(-24 * time.Hour),
		"7d":  now.AddDate(0, 0, -7),
		"90m": now.Add(-90 * time.Minute),
	} {
		got, err := parseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseSince("2099-01-01", now); err == nil {
		t.Error("a future date must be refused")
	}
}

func TestUsageCountsWhatWasRecorded(t *testing.T) {
	e := newEnv(t)
	r := e.must("keys", "create", "--name", "web", "--json")
	var created struct {
		Key model.Key `json:"key"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil || created.Key.ID == "" {
		t.Fatalf("create: %v\n%s", err, r.stdout)
	}
	st := e.open()
	h := time.Now().UTC().Truncate(time.Hour)
	err := st.RecordUsage(t.Context(), []store.UsageDelta{
		{KeyID: created.Key.ID, Hour: h, Allowed: 7, Unauthorized: 2, Forbidden: 3, RefusedHosts: map[string]uint64{"evil.example": 3}},
		{KeyID: created.Key.ID, Hour: h.Add(-2 * time.Hour), Allowed: 5},
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	r = e.must("usage", "web", "--since", "24h", "--json")
	var u usageJSON
	if err := json.Unmarshal([]byte(r.stdout), &u); err != nil {
		t.Fatal(err)
	}
	if u.Totals.Counts != (model.Counts{Allowed: 12, Unauthorized: 2, Forbidden: 3}) {
		t.Errorf("totals = %+v", u.Totals)
	}
	last := u.Buckets[len(u.Buckets)-1]
	if !last.Start.Equal(h) || last.Allowed != 7 {
		t.Errorf("last bucket = %+v, want hour %v with 7 allowed", last, h)
	}
	if len(u.Refused) != 1 || u.Refused[0].Host != "evil.example" || u.Refused[0].Count != 3 {
		t.Errorf("refused = %+v", u.Refused)
	}
}

func TestHygieneDemo(t *testing.T) {
	e := newEnv(t)
	r := e.must("--demo", "hygiene", "--json")
	var h hygieneJSON
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	found := false
	for _, f := range h.Findings {
		if f.Kind == model.FindUnrestricted && f.Key == demo.UnrestrictedKey {
			t.Errorf("%q is a server's key (no browser uses it): not a finding", demo.UnrestrictedKey)
		}
		if f.Kind == model.FindUnrestricted && f.Key == demo.BrowserUnrestrictedKey {
			found = true
			if !strings.HasPrefix(f.Command, "tmaps keys link "+f.KeyID) {
				t.Errorf("fix command = %q", f.Command)
			}
		}
		if f.Kind == model.FindUnrestricted && f.Key == demo.SpikeKey {
			t.Errorf("%q has domains; it is not unrestricted", demo.SpikeKey)
		}
	}
	if !found {
		t.Errorf("hygiene does not list %q as unrestricted: %+v", demo.BrowserUnrestrictedKey, h.Findings)
	}
	var stale []string
	for _, f := range h.Findings {
		if f.Kind == model.FindStaleLink {
			stale = append(stale, f.Key+"/"+f.Domain)
		}
	}
	if !h.LinksChecked || len(stale) != 1 || stale[0] != "Partner portal/mysite.tn" {
		t.Errorf("links checked %v, stale links %v; want the demo's Partner portal/mysite.tn only", h.LinksChecked, stale)
	}
}
