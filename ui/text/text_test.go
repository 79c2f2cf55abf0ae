package text

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// A styled line that wraps carries its style on every line and resets it
// at each line's end, so a border drawn after a line is never coloured.
func TestWrapKeepsStylesInsideLines(t *testing.T) {
	red := "\x1b[31m"
	lines := Wrap(red+"✗ the name has an invalid character: remove it and try again"+"\x1b[m", 20)
	if len(lines) < 3 {
		t.Fatalf("%d lines: %q", len(lines), lines)
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, red) {
			t.Errorf("line %d does not open the style: %q", i, l)
		}
		if !strings.HasSuffix(l, "\x1b[m") {
			t.Errorf("line %d leaves the style open: %q", i, l)
		}
		if w := ansi.StringWidth(l); w > 20 {
			t.Errorf("line %d is %d cells", i, w)
		}
	}
	if got := strings.Join(lines, " "); ansi.Strip(got) != "✗ the name has an invalid character: remove it and try again" {
		t.Errorf("text changed: %q", ansi.Strip(got))
	}
	if l := Wrap("plain words here", 6); len(l) != 3 || l[0] != "plain" {
		t.Errorf("plain wrap: %q", l)
	}
}

// Text whose width terminals disagree on is spelt out; the rest is kept.
func TestSafeWidthStable(t *testing.T) {
	for in, want := range map[string]string{
		"Production web":       "Production web",
		"café.tn":              "café.tn",
		"evil\x1b[31m\u202e":   `evil\x1b[31m\u202e`,
		"👨\u200d👩\u200d👧 team": `👨\u200d👩\u200d👧 team`,
		"Pay\u200bPal":         `Pay\u200bPal`,
		"tag\U000e0041":        `tag\U000e0041`,
		"I ❤\ufe0f maps":       `I ❤\ufe0f maps`,
		"日本語":                  "日本語",
	} {
		got := Safe(in)
		if got != want {
			t.Errorf("Safe(%q) = %q, want %q", in, got, want)
		}
		if g, w := ansi.StringWidth(got), ansi.StringWidthWc(got); g != w {
			t.Errorf("Safe(%q): %d cells by graphemes, %d by runes", in, g, w)
		}
	}
}

func TestFitTruncatePlural(t *testing.T) {
	if got := Fit("abcdef", 4); got != "abc…" {
		t.Errorf("Fit = %q", got)
	}
	if got := Fit("ab", 4); got != "ab  " {
		t.Errorf("Fit pad = %q", got)
	}
	if got := Plural(64660, "finding"); got != "64,660 findings" {
		t.Errorf("Plural = %q", got)
	}
	if got := Plural(1, "key"); got != "1 key" {
		t.Errorf("Plural = %q", got)
	}
	if got := Thousands(1234567); got != "1,234,567" {
		t.Errorf("Thousands = %q", got)
	}
}

func TestFuzzy(t *testing.T) {
	for _, tc := range []struct {
		hay, q string
		ok     bool
	}{
		{"new key", "nk", true},
		{"new key", "new", true},
		{"revoke", "rvk", true},
		{"revoke", "kv", false},
		{"Link domain", "LINK dom", true},
		{"anything", "", true},
		{"copy prefix", "xyz", false},
	} {
		if _, ok := Fuzzy(tc.hay, tc.q); ok != tc.ok {
			t.Errorf("Fuzzy(%q, %q) ok = %v, want %v", tc.hay, tc.q, ok, tc.ok)
		}
	}
	rank := func(q string, hays ...string) {
		t.Helper()
		for i := 1; i < len(hays); i++ {
			a, _ := Fuzzy(hays[i-1], q)
			b, _ := Fuzzy(hays[i], q)
			if a <= b {
				t.Errorf("query %q: %q (%d) should rank above %q (%d)", q, hays[i-1], a, hays[i], b)
			}
		}
	}
	rank("dis", "disable", "this is dis", "d i s")
	rank("lk", "link keys", "unlink")
	rank("rev", "revoke", "previous page")
}
