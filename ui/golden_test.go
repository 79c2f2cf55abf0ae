package ui

import (
	"fmt"
	"strings"
	"testing"
)

// Snapshots of whole screens, colours stripped, at a roomy and at the
// smallest supported size. Run `go test ./ui -run TestGolden -update` to
// rewrite them after checking the change by eye.
func TestGolden(t *testing.T) {
	steps := []struct {
		name string
		keys []string
	}{
		{"keys", nil},
		{"keys-menu", []string{"."}},
		{"key-detail", []string{"enter"}},
		{"domains", []string{"2"}},
		{"domain-detail", []string{"2", "down", "down", "down", "down", "enter"}},
		{"create", []string{"n", "P", "r", "o", "d"}},
		{"revoke", []string{".", "x", "P", "r"}},
		{"delete-domain", []string{"2", "down", "D"}},
		{"link-picker", []string{"down", "enter", "l"}},
		{"help", []string{"?"}},
		{"help-search", []string{"?", "/", "l", "i", "n", "k"}},
		{"palette", []string{":"}},
		{"palette-search", []string{":", "r", "e", "v"}},
	}
	for _, sz := range [][2]int{{100, 30}, {60, 15}} {
		for _, st := range steps {
			name := fmt.Sprintf("%s-%dx%d", st.name, sz[0], sz[1])
			t.Run(name, func(t *testing.T) {
				hs := newHarness(t, openStore(t), sz[0], sz[1]).withFixture()
				hs.keys(st.keys...)
				hs.golden(name)
			})
		}
	}
}

func TestGoldenEmpty(t *testing.T) {
	hs := newHarness(t, openStore(t), 100, 30)
	hs.golden("empty-100x30")
}

// User text never reaches the screen raw: the fixture's key name carries an
// escape sequence and a bidi override.
func TestUserStringsAreEscaped(t *testing.T) {
	hs := newHarness(t, openStore(t), 120, 40).withFixture()
	for _, k := range [][]string{nil, {"/"}, {"esc", "g"}} {
		hs.keys(k...)
		v := hs.app.View().Content
		if strings.Contains(v, "\x1b[31m name") || strings.Contains(v, "\u202e") {
			t.Fatalf("raw control characters in the view after %v", k)
		}
	}
	hs.keys("s", "s", "s") // by status... then find the evil key by filter
	hs.keys("/")
	hs.typeText("evil")
	hs.keys("enter")
	hs.want(`Evil\x1b[31m name\u202e`)
	hs.keys("enter")
	hs.want(`Evil\x1b[31m name\u202e`)
	if strings.Contains(hs.app.View().Content, "\u202e") {
		t.Fatal("bidi override in the detail view")
	}
}
