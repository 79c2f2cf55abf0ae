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
	var d dataset
	d.setKeys([]model.Key{
		{ID: "k1", Name: "right", Domains: []string{"a.tn", "b.tn"}},
		{ID: "k2", Name: "lost a domain", Domains: []string{"a.tn", "gone.tn"}},
		{ID: "k3", Name: "gained one", Domains: nil},
		{ID: "k4", Name: "swapped", Domains: []string{"b.tn"}},
		{ID: "k5", Name: "none", Domains: []string{}},
	})
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
		if len(w) > 0 && !containsAll(d.hay[d.idx[id]], w) {
			t.Errorf("%s: search text %q misses %q", id, d.hay[d.idx[id]], w)
		}
	}
	if k, _ := d.key("k1"); &k.Domains[0] != &right[0] {
		t.Error("a key that was right got a new list")
	}
	if d.setDomains(doms) {
		t.Error("nothing changed, setDomains says something did")
	}
}

func containsAll(hay string, subs []string) bool {
	for _, s := range subs {
		if !slices.Contains(splitNul(hay), s) {
			return false
		}
	}
	return true
}

func splitNul(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// The search text lowercases as strings.ToLower does, ASCII or not.
func TestAppendLower(t *testing.T) {
	for _, s := range []string{"", "Customer 12 WEB", "café.tn", "CAFÉ ÉTÉ", "İstanbul", "ǅ", "already lower"} {
		if got := string(appendLower([]byte("x"), s)); got != "x"+strings.ToLower(s) {
			t.Errorf("appendLower(%q) = %q, want %q", s, got[1:], strings.ToLower(s))
		}
	}
}
