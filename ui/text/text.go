// Package text measures, fits and words what the console draws: widths in
// terminal cells, padding and truncation that keep styles intact, wrapping
// that never lets a style run past its line, user text made safe for the
// screen, and the few number and list phrasings every page uses.
package text

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
	"github.com/tmaps/console/model"
)

// Width is the display width of s in cells (s may hold SGR styles), with a
// fast path for plain printable ASCII.
func Width(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return ansi.StringWidth(s)
		}
	}
	return len(s)
}

// Pad pads s with spaces to w cells (s may hold styles).
func Pad(s string, w int) string {
	n := Width(s)
	if n >= w {
		return s
	}
	return s + strings.Repeat(" ", w-n)
}

// PadLeft right-aligns s in w cells.
func PadLeft(s string, w int) string {
	n := Width(s)
	if n >= w {
		return s
	}
	return strings.Repeat(" ", w-n) + s
}

// Truncate cuts s to at most w cells, ending with "…" when it was longer.
func Truncate(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if Width(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// Fit truncates s to w cells with an ellipsis and pads it to exactly w.
func Fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	return Pad(Truncate(s, w), w)
}

// Spread puts left and right on one line of w cells, cutting left when
// they do not fit.
func Spread(left, right string, w int) string {
	gap := w - Width(left) - Width(right)
	if gap < 1 {
		room := w - Width(right) - 1
		if room < 8 {
			return Fit(left, w)
		}
		return ansi.Truncate(left, room, "…") + " " + right
	}
	return left + strings.Repeat(" ", gap) + right
}

// Wrap breaks s into lines of at most w cells, at spaces where it can.
// Every line is self-contained: a style open at the end of a line is reset
// there and opened again on the next, so nothing drawn beside a line (a
// dialog's border) takes its colour.
func Wrap(s string, w int) []string {
	if w < 1 {
		w = 1
	}
	if Width(s) <= w && !strings.Contains(s, "\n") {
		return []string{s}
	}
	lines := strings.Split(ansi.Wrap(s, w, " "), "\n")
	open := "" // the SGR sequences in force at the start of the line
	for i, l := range lines {
		l = strings.TrimRight(l, " ")
		active := open
		for rest := l; ; {
			j := strings.Index(rest, "\x1b[")
			if j < 0 {
				break
			}
			k := j + 2
			for k < len(rest) && (rest[k] == ';' || rest[k] == ':' || rest[k] >= '0' && rest[k] <= '9') {
				k++
			}
			if k < len(rest) && rest[k] == 'm' {
				seq := rest[j : k+1]
				if seq == "\x1b[m" || seq == "\x1b[0m" {
					active = ""
				} else {
					active += seq
				}
			}
			rest = rest[min(k+1, len(rest)):]
		}
		lines[i] = open + l
		if active != "" {
			lines[i] += "\x1b[m"
		}
		open = active
	}
	return lines
}

// Safe makes text from a user or a request safe to draw: control and bidi
// characters and invalid UTF-8 are escaped (model.Escape); so is every
// character model.CheckText refuses in names (invisible and format
// characters: a zero width space shows as \u200b); and so is any part of
// a grapheme cluster whose width terminals disagree on (a variation
// selector), so a row or a border drawn after it never shifts, whichever
// width the terminal uses.
func Safe(s string) string {
	s = model.Escape(s)
	if model.CheckText("text", s) != nil {
		var b strings.Builder
		for _, r := range s {
			if model.CheckText("text", string(r)) != nil {
				writeEscape(&b, r)
				continue
			}
			b.WriteRune(r)
		}
		s = b.String()
	}
	plainASCII := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			plainASCII = false
			break
		}
	}
	if plainASCII {
		return s
	}
	stable := true
	for rest := s; rest != "" && stable; {
		c, w, n, _ := ansi.DecodeSequence(rest, 0, nil)
		stable = w == ansi.StringWidthWc(c)
		rest = rest[n:]
	}
	if stable {
		return s
	}
	var b strings.Builder
	for rest := s; rest != ""; {
		c, w, n, _ := ansi.DecodeSequence(rest, 0, nil)
		rest = rest[n:]
		if w == ansi.StringWidthWc(c) {
			b.WriteString(c)
			continue
		}
		// Keep the first character when it is stable alone; spell out
		// the rest (joiners, selectors, modifiers) as \u escapes.
		r, size := utf8.DecodeRuneInString(c)
		first := c[:size]
		if ansi.StringWidth(first) == ansi.StringWidthWc(first) {
			b.WriteString(first)
		} else {
			writeEscape(&b, r)
		}
		for _, r := range c[size:] {
			writeEscape(&b, r)
		}
	}
	return b.String()
}

func writeEscape(b *strings.Builder, r rune) {
	if r > 0xffff {
		b.WriteString(`\U`)
		b.WriteString(strconv.FormatUint(uint64(r)|0x100000000, 16)[1:])
		return
	}
	b.WriteString(`\u`)
	b.WriteString(strconv.FormatUint(uint64(r)|0x10000, 16)[1:])
}

// Quote is a user's name in curly quotes, made safe.
func Quote(name string) string { return "“" + Safe(name) + "”" }

// Plural is "1 key", "2 keys", "64,660 findings".
func Plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return Thousands(n) + " " + word + "s"
}

// Thousands formats n with comma separators: 100,000.
func Thousands(n int) string {
	if n < 0 {
		return "-" + Thousands(-n)
	}
	s := strconv.Itoa(n)
	if len(s) <= 3 {
		return s
	}
	var out []byte
	pre := len(s) % 3
	if pre > 0 {
		out = append(out, s[:pre]...)
	}
	for i := pre; i < len(s); i += 3 {
		if len(out) > 0 {
			out = append(out, ',')
		}
		out = append(out, s[i:i+3]...)
	}
	return string(out)
}

// Names lists names (made safe) for a message: "a", "a and b", "a and 3
// more".
func Names(names []string) string {
	switch len(names) {
	case 0:
		return "nothing"
	case 1:
		return Safe(names[0])
	case 2:
		return Safe(names[0]) + " and " + Safe(names[1])
	}
	return Safe(names[0]) + " and " + Thousands(len(names)-1) + " more"
}

// Fuzzy reports whether every rune of query appears in hay in order (case
// folded, spaces in query ignored) and scores the match: higher for a
// whole substring, for runes that follow each other and for runes that
// start a word, lower for runes skipped.
func Fuzzy(hay, query string) (score int, ok bool) {
	h := []rune(strings.ToLower(hay))
	q := []rune(strings.ToLower(strings.ReplaceAll(query, " ", "")))
	if len(q) == 0 {
		return 0, true
	}
	wordStart := func(i int) bool {
		if i == 0 {
			return true
		}
		p := h[i-1]
		return p == ' ' || p == '-' || p == '_' || p == '/' || p == '.' || p == '(' || p == '+'
	}
	if i := strings.Index(string(h), strings.ToLower(strings.TrimSpace(query))); i >= 0 {
		score = 1000 - len([]rune(string(h)[:i]))
		if wordStart(len([]rune(string(h)[:i]))) {
			score += 200
		}
		return score, true
	}
	j, last := 0, -2
	for i := 0; i < len(h) && j < len(q); i++ {
		if h[i] != q[j] {
			continue
		}
		score += 10
		if i == last+1 {
			score += 15
		}
		if wordStart(i) {
			score += 20
		}
		if last >= 0 {
			score -= min(i-last-1, 10)
		}
		last = i
		j++
	}
	return score, j == len(q)
}
