package ui

import (
	"slices"
	"strings"
	"testing"

	"github.com/tmaps/console/model"
)

// setDomains makes each key's domains those whose key lists name it: a
// domain gone, a link made or undone elsewhere, and keys already right
// left as they are.
func TestSetDomainsReconcilesLinks(t *testing.T) {
	// The search text made before the change (kept up to date), or after.
	for _, early := range []bool{true, false} {
		var d dataset
		d.setKeys([]model.Key{
			{ID: "k1", Name: "right", Domains: []string{"a.tn", "b.tn"}},
			{ID: "k2", Name: "lost a domain", Domains: []string{"a.tn", "gone.tn"}},
			{ID: "k3", Name: "gained one", Domains: nil},
			{ID: "k4", Name: "swapped", Domains: []string{"b.tn"}},
			{ID: "k5", Name: "none", Domains: []string{}},
		})
		if early {
			d.searchText()
		}
		right := d.keys[0].Domains
		doms := []model.Domain{
			{Name: "b.tn", Keys: []string{"k1", "k3"}},
			{Name: "a.tn", Keys: []string{"k1", "k2", "k4", "unknown"}},
		}
		if !d.setDomains(doms) {
			t.Fatal("keys changed, setDomains says none did")
		}
		want := map[string][]string{"k1": {"a.tn", "b.tn"}, "k2": {"a.tn"}, "k3": {"b.tn"}, "k4": {"a.tn"}, "k5": nil}
		for id, w := range want {
			k, _ := d.key(id)
			if !slices.Equal(k.Domains, w) {
				t.Errorf("%s: domains %q, want %q", id, k.Domains, w)
			}
			if hay := d.searchText()[d.idx[id]]; hay != keyHay(k) {
				t.Errorf("%s (search text made early: %v): search text %q, want %q", id, early, hay, keyHay(k))
			}
		}
		if k, _ := d.key("k1"); &k.Domains[0] != &right[0] {
			t.Error("a key that was right got a new list")
		}
		if d.setDomains(doms) {
			t.Error("nothing changed, setDomains says something did")
		}
	}
}

// The search text follows keys added, changed and dropped, whether it was
// made before or is made after.
func TestSearchTextFollowsKeys(t *testing.T) {
	for _, early := range []bool{true, false} {
		var d dataset
		d.setKeys([]model.Key{{ID: "k1", Name: "One"}, {ID: "k2", Name: "Two"}, {ID: "k3", Name: "Three"}})
		if early {
			d.searchText()
		}
		d.putKey(model.Key{ID: "k2", Name: "Deux", Status: model.Disabled})
		d.putKey(model.Key{ID: "k4", Name: "Quatre"})
		d.dropKey("k1")
		hay := d.searchText()
		if len(hay) != len(d.keys) {
			t.Fatalf("early %v: %d search texts for %d keys", early, len(hay), len(d.keys))
		}
		for i := range d.keys {
			if hay[i] != keyHay(&d.keys[i]) {
				t.Errorf("early %v: %s: search text %q, want %q", early, d.keys[i].ID, hay[i], keyHay(&d.keys[i]))
			}
		}
	}
}

// The search text lowercases as strings.ToLower does, ASCII or not.
func TestAppendLower(t *testing.T) {
	for _, s := range []string{"", "Customer 12 WEB", "café.tn", "CAFÉ ÉTÉ", "İstanbul", "ǅ", "already lower"} {
		if got := string(appendLower([]byte("x"), s)); got != "x"+strings.ToLower(s) {
			t.Errorf("appendLower(%q) = %q, want %q", s, got[1:], strings.ToLower(s))
		}
	}
}
