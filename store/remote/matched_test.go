package remote_test

import (
	"context"
	"testing"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/remote"
)

// Matched hosts recorded through the API come back through the API.
func TestMatchedHostsOverTheAPI(t *testing.T) {
	b := newBackend(t, false)
	ts := serve(t, b)
	s, err := remote.New(ts.URL, b.token, remote.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	k, _, err := s.CreateKey(ctx, "web", model.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	h := time.Now().UTC().Truncate(time.Hour)
	if err := s.RecordUsage(ctx, []store.UsageDelta{{KeyID: k.ID, Hour: h, Allowed: 4, MatchedHosts: map[string]uint64{"mysite.tn": 3, "app.mysite.tn": 1}}}); err != nil {
		t.Fatal(err)
	}
	hs, err := s.MatchedHosts(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 || hs[0].Host != "mysite.tn" || hs[0].Count != 3 || hs[0].Last7d != 3 || hs[1].Host != "app.mysite.tn" {
		t.Fatalf("matched hosts = %+v", hs)
	}
}
