package server

import (
	"context"
	"net/http"
	"testing"

	"github.com/tmaps/console/model"
)

func TestHygieneRoute(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	open, _, err := f.st.CreateKey(ctx, "open")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.AddDomain(ctx, "lonely.tn"); err != nil {
		t.Fatal(err)
	}
	status, body := f.do("GET", "/v1/hygiene", "")
	if status != http.StatusOK {
		t.Fatalf("GET /v1/hygiene: %d %s", status, body)
	}
	rep := decodeInto[HygieneReport](t, body)
	kinds := map[string]string{}
	for _, fd := range rep.Findings {
		kinds[fd.Kind] = fd.KeyID + fd.Domain
	}
	if kinds[model.FindUnrestricted] != open.ID || kinds[model.FindOrphanDomain] != "lonely.tn" {
		t.Fatalf("findings = %+v", rep.Findings)
	}
	if rep.LinksChecked {
		t.Error("links cannot be checked without per-link usage")
	}
}
