package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/wire"
)

// GET /v1/keys/{id}/refused-hosts is paged: limit and the X-Next-Cursor
// of the previous page walk every entry once, in order.
func TestRefusedHostsPaged(t *testing.T) {
	f := newFixture(t, Options{})
	status, body := f.do("POST", "/v1/keys", `{"name":"paged"}`)
	expect(t, "create", status, body, http.StatusCreated, "")
	id := decodeInto[wire.KeyWithSecret](t, body).Key.ID
	now := time.Now().UTC().Truncate(time.Hour)
	want := 0
	for day := range 3 {
		hosts := map[string]uint64{}
		for i := range 90 {
			hosts[fmt.Sprintf("d%d-h%02d.tn", day, i)] = uint64(1 + i%7)
			want++
		}
		err := f.st.RecordUsage(context.Background(), []store.UsageDelta{{KeyID: id, Hour: now.Add(-time.Duration(24*day) * time.Hour), RefusedHosts: hosts}})
		if err != nil {
			t.Fatal(err)
		}
	}
	var all []store.RefusedHost
	cursor, pages := "", 0
	for {
		path := "/v1/keys/" + id + "/refused-hosts?limit=100"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		req, _ := http.NewRequest("GET", f.ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+f.token)
		resp, err := f.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page := decodeInto[[]store.RefusedHost](t, b)
		pages++
		if len(page) > 100 {
			t.Fatalf("page of %d entries with limit 100", len(page))
		}
		all = append(all, page...)
		if cursor = resp.Header.Get(wire.NextCursorHeader); cursor == "" {
			break
		}
	}
	if pages != 3 || len(all) != want {
		t.Fatalf("%d pages, %d entries; want 3 pages, %d entries", pages, len(all), want)
	}
	seen := map[string]bool{}
	for i, h := range all {
		if seen[h.Host] {
			t.Fatalf("%s twice", h.Host)
		}
		seen[h.Host] = true
		if i > 0 && !store.RefusedBefore(all[i-1], h) {
			t.Fatalf("entries %d and %d out of order: %+v %+v", i-1, i, all[i-1], h)
		}
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "cursor=!!!", "cursor=AAAA"} {
		status, body := f.do("GET", "/v1/keys/"+id+"/refused-hosts?"+q, "")
		expect(t, q, status, body, http.StatusBadRequest, wire.CodeBadRequest)
	}
}
