package model

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/runenames"
)

// MaxCombiningRun is the most combining marks accepted in a row in a name
// (more is "zalgo" text that spills over neighbouring lines).
const MaxCombiningRun = 4

// ErrTextInvalid is matched (errors.Is) by every *TextError.
var ErrTextInvalid = errors.New("the text contains a character that is not allowed")

// TextError says which character made a piece of text refused and where.
// Its message names the field and the character (e.g. `the name contains
// U+200B zero width space at character 5: remove it`) and is safe to print
// in a terminal: it never contains the character itself.
type TextError struct {
	Field string // "name", "owner", "note", "token name", …
	Rune  rune   // utf8.RuneError for invalid UTF-8
	Pos   int    // 1-based character position; 0 when not about one character
	// Problem is the whole reason when it is not one character (invalid
	// UTF-8, too many combining marks).
	Problem string
}

func (e *TextError) Error() string {
	if e.Problem != "" {
		return fmt.Sprintf("the %s %s", e.Field, e.Problem)
	}
	return fmt.Sprintf("the %s contains %s at character %d: remove it", e.Field, RuneName(e.Rune), e.Pos)
}

// Is makes every TextError match ErrTextInvalid and ErrNameControl.
func (e *TextError) Is(target error) bool {
	return target == ErrTextInvalid || target == ErrNameControl
}

// CheckText checks free text typed by a person (key names, owners, notes,
// token names) against SPEC.md "Names and text". It refuses invalid UTF-8,
// control characters (Cc), bidi controls, format characters (Cf, which
// holds the zero-width characters, the tag characters and the BOM), line
// and paragraph separators (Zl, Zp), the invisible Hangul fillers (U+115F,
// U+1160, U+3164, U+FFA0) and other default-ignorable code points, and more
// than MaxCombiningRun combining marks in a row. It returns nil or a
// *TextError naming field and the character.
func CheckText(field, s string) error {
	if !utf8.ValidString(s) {
		pos := 1 + utf8.RuneCountInString(s[:invalidAt(s)])
		return &TextError{Field: field, Rune: utf8.RuneError, Pos: pos,
			Problem: fmt.Sprintf("is not valid UTF-8 text (at character %d): retype it", pos)}
	}
	pos, marks := 0, 0
	for _, r := range s {
		pos++
		if unicode.Is(unicode.M, r) {
			marks++
			if marks > MaxCombiningRun {
				return &TextError{Field: field, Rune: r, Pos: pos,
					Problem: fmt.Sprintf("has more than %d combining marks in a row (at character %d): remove them", MaxCombiningRun, pos)}
			}
		} else {
			marks = 0
		}
		if refusedInText(r) {
			return &TextError{Field: field, Rune: r, Pos: pos}
		}
	}
	return nil
}

// refusedInText reports whether r is invisible or changes how the text
// around it is shown.
func refusedInText(r rune) bool {
	if r < utf8.RuneSelf {
		return r < 0x20 || r == 0x7f
	}
	return unicode.IsControl(r) || IsBidi(r) ||
		unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Other_Default_Ignorable_Code_Point) ||
		(r >= 0xE0000 && r <= 0xE007F) // tag characters, assigned or not
}

// invalidAt returns the byte offset of the first invalid UTF-8 sequence.
func invalidAt(s string) int {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(s)
}

// controlNames names the control characters, which Unicode calls <control>.
var controlNames = map[rune]string{
	0x00: "null", 0x07: "bell", 0x08: "backspace", 0x09: "tab", 0x0A: "line feed",
	0x0B: "vertical tab", 0x0C: "form feed", 0x0D: "carriage return", 0x1B: "escape",
	0x7F: "delete", 0x85: "next line",
}

// RuneName returns "U+XXXX name" for r in lowercase, e.g. "U+200B zero
// width space", "U+001B escape", "U+212A kelvin sign".
func RuneName(r rune) string {
	name, ok := controlNames[r]
	if !ok {
		name = strings.ToLower(runenames.Name(r))
		switch {
		case name == "" && r >= 0xE0000 && r <= 0xE007F:
			name = "tag character"
		case name == "<control>":
			name = "control character"
		case name == "":
			name = "unassigned character"
		}
	}
	return fmt.Sprintf("%U %s", r, name)
}

// ErrNameKeyRef refuses a name that a command could read as a key reference.
var ErrNameKeyRef = errors.New("the name could be read as a key reference (ak_… or a key id k…): choose a name that does not start with ak_ and is not k followed by hex digits")

// NormalizeName trims spaces and checks a name given to something (a key, a
// token): 1–100 characters, CheckText, and nothing a command would read as a
// key reference (LooksLikeKeyRef). It returns ErrNameEmpty, ErrNameTooLong,
// a *TextError (matching ErrNameControl) or ErrNameKeyRef, wrapped with
// field when field is not "name".
func NormalizeName(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	var err error
	switch {
	case s == "":
		err = ErrNameEmpty
	case utf8.ValidString(s) && utf8.RuneCountInString(s) > MaxNameLen:
		err = ErrNameTooLong
	default:
		if err = CheckText(field, s); err == nil && LooksLikeKeyRef(s) {
			err = ErrNameKeyRef
		}
	}
	if err == nil {
		return s, nil
	}
	var te *TextError
	if field != "name" && !errors.As(err, &te) {
		err = fmt.Errorf("%s: %w", field, err)
	}
	return "", err
}

// LooksLikeKeyRef reports whether s could be read as a key reference by
// store.ResolveKey: a display prefix or secret ("ak_…", any case), or a key
// id or the start of one ("k" followed by 2 to 12 lowercase hex digits).
func LooksLikeKeyRef(s string) bool {
	if len(s) >= 3 && strings.EqualFold(s[:3], SecretPrefix) {
		return true
	}
	if len(s) < 3 || len(s) > 13 || s[0] != 'k' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
