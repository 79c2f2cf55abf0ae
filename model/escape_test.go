package model

import "testing"

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		// Clean text is unchanged.
		{"", ""},
		{"Production frontend", "Production frontend"},
		{"café.tn — 日本 🔑", "café.tn — 日本 🔑"},
		{"mуsite.tn", "mуsite.tn"},
		{`back\slash`, `back\slash`},
		// Control characters.
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"a\x00b", `a\x00b`},
		{"line\nbreak\r\t", `line\x0abreak\x0d\x09`},
		{"del\x7f", `del\x7f`},
		{"c1\u0085\u009b", `c1\u0085\u009b`},
		// Bidi formatting characters.
		{"evil\u202etxt.exe", `evil\u202etxt.exe`},
		{"\u2066x\u2069", `\u2066x\u2069`},
		{"\u200e\u200f\u061c", `\u200e\u200f\u061c`},
		// Invalid UTF-8.
		{"\xff", `\xff`},
		{"ok\xc3(", `ok\xc3(`},
		{"\xed\xa0\x80", `\xed\xa0\x80`}, // surrogate half
		{"\uFFFD", "\uFFFD"},             // a real U+FFFD is text, kept
	}
	for _, tt := range tests {
		if got := Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
	s := "clean text"
	if n := testing.AllocsPerRun(100, func() { _ = Escape(s) }); n != 0 {
		t.Errorf("Escape of clean text allocates %v times", n)
	}
}
