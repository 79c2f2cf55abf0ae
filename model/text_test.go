package model

import (
	"errors"
	"strings"
	"testing"
)

// hostileNames are the invisible and format characters SPEC.md "Names and
// text" refuses, with the name each error must give.
var hostileNames = []struct {
	in, name string
}{
	{"pay\u200bments", "U+200B zero width space"},
	{"pay\u200cments", "U+200C zero width non-joiner"},
	{"pay\u200dments", "U+200D zero width joiner"},
	{"pay\u2060ments", "U+2060 word joiner"},
	{"\ufeffpayments", "U+FEFF zero width no-break space"},
	{"pay\u00adments", "U+00AD soft hyphen"},
	{"pay\u2028ments", "U+2028 line separator"},
	{"pay\u2029ments", "U+2029 paragraph separator"},
	{"pay\u3164ments", "U+3164 hangul filler"},
	{"pay\u115fments", "U+115F hangul choseong filler"},
	{"pay\uffa0ments", "U+FFA0 halfwidth hangul filler"},
	{"pay\U000E0041ments", "U+E0041 tag latin capital letter a"},
	{"pay\U000E0001ments", "U+E0001 language tag"},
	{"pay\U000E007Fments", "U+E007F cancel tag"},
	{"pay\u180ements", "U+180E mongolian vowel separator"},
	{"pay\u2062ments", "U+2062 invisible times"},
	{"pay\u061cments", "U+061C arabic letter mark"},
	{"evil\u202eexe.txt", "U+202E right-to-left override"},
	{"a\u2066b", "U+2066 left-to-right isolate"},
	{"a\x1b[31mred", "U+001B escape"},
	{"line\nbreak", "U+000A line feed"},
	{"a\rb", "U+000D carriage return"},
	{"tab\tinside", "U+0009 tab"},
	{"a\u0085b", "U+0085 next line"},
	{"a\x7fb", "U+007F delete"},
}

func TestCheckTextRefusesInvisibleAndFormatCharacters(t *testing.T) {
	for _, tt := range hostileNames {
		err := CheckText("name", tt.in)
		var te *TextError
		if !errors.As(err, &te) {
			t.Errorf("CheckText(%q) = %v, want a *TextError", tt.in, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.name) {
			t.Errorf("CheckText(%q) = %q, want it to name %q", tt.in, err, tt.name)
		}
		if !errors.Is(err, ErrTextInvalid) || !errors.Is(err, ErrNameControl) {
			t.Errorf("CheckText(%q): errors.Is ErrTextInvalid/ErrNameControl false", tt.in)
		}
		if Escape(err.Error()) != err.Error() {
			t.Errorf("CheckText(%q) message is not terminal-safe: %q", tt.in, err)
		}
	}
}

func TestCheckTextCombiningMarks(t *testing.T) {
	ok := []string{"e\u0301", "a" + strings.Repeat("\u0301", MaxCombiningRun), "नमस्ते", "ไทย", "❤️ team", "Ελληνικά"}
	for _, s := range ok {
		if err := CheckText("name", s); err != nil {
			t.Errorf("CheckText(%q) = %v, want nil", s, err)
		}
	}
	zalgo := "a" + strings.Repeat("\u0301", MaxCombiningRun+1)
	err := CheckText("note", zalgo)
	if err == nil || !strings.Contains(err.Error(), "combining marks in a row") || !strings.HasPrefix(err.Error(), "the note ") {
		t.Errorf("CheckText(zalgo) = %v", err)
	}
}

func TestCheckTextInvalidUTF8(t *testing.T) {
	err := CheckText("owner", "ab\xffc")
	if err == nil || !strings.Contains(err.Error(), "not valid UTF-8") || !strings.Contains(err.Error(), "character 3") {
		t.Errorf("CheckText(invalid UTF-8) = %v", err)
	}
}

func TestNormalizeKeyNameRefusesHostileNames(t *testing.T) {
	for _, tt := range hostileNames {
		if got, err := NormalizeKeyName(tt.in); err == nil || !errors.Is(err, ErrNameControl) || got != "" {
			t.Errorf("NormalizeKeyName(%q) = %q, %v; want a refusal naming %s", tt.in, got, err, tt.name)
		}
	}
}

func TestNormalizeKeyNameRefusesKeyReferences(t *testing.T) {
	for _, s := range []string{"ak_ec6283fc", "AK_ec6283fc", "ak_", "ak_partner", "k0123456789ab", "kec6283", "kab"} {
		if _, err := NormalizeKeyName(s); !errors.Is(err, ErrNameKeyRef) {
			t.Errorf("NormalizeKeyName(%q) = %v, want ErrNameKeyRef", s, err)
		}
	}
	for _, s := range []string{"k", "kb", "kiosk", "KFC", "k0123456789abc", "key ak_x", "Mak_", "backend"} {
		if _, err := NormalizeKeyName(s); err != nil {
			t.Errorf("NormalizeKeyName(%q) = %v, want it accepted", s, err)
		}
	}
}

func TestNormalizeNameNamesTheField(t *testing.T) {
	_, err := NormalizeName("token name", "")
	if !errors.Is(err, ErrNameEmpty) || !strings.HasPrefix(err.Error(), "token name: ") {
		t.Errorf("empty token name: %v", err)
	}
	_, err = NormalizeName("token name", "ci\u200bbot")
	if err == nil || err.Error() != "the token name contains U+200B zero width space at character 3: remove it" {
		t.Errorf("token name with U+200B: %v", err)
	}
}

func TestRuneName(t *testing.T) {
	for r, want := range map[rune]string{0x200B: "U+200B zero width space", 0x1B: "U+001B escape",
		0x9B: "U+009B control character", 0x212A: "U+212A kelvin sign", 0xE0050: "U+E0050 tag latin capital letter p"} {
		if got := RuneName(r); got != want {
			t.Errorf("RuneName(%U) = %q, want %q", r, got, want)
		}
	}
}

func FuzzCheckText(f *testing.F) {
	for _, tt := range hostileNames {
		f.Add(tt.in)
	}
	f.Add("Production web")
	f.Fuzz(func(t *testing.T, s string) {
		err := CheckText("name", s)
		if err == nil {
			// Accepted text shows as itself in a terminal.
			if Escape(s) != s {
				t.Fatalf("CheckText accepted %q, which Escape changes", s)
			}
			return
		}
		if Escape(err.Error()) != err.Error() {
			t.Fatalf("error message not terminal-safe: %q", err)
		}
	})
}
