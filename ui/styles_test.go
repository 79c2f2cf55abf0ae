package ui

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// sgrState is the text attributes an SGR sequence stream has set.
type sgrState struct {
	bold, faint, italic, underline, blink, reverse, strike bool
	fg, bg                                                 string
}

func (s sgrState) String() string {
	var p []string
	for _, a := range []struct {
		on   bool
		name string
	}{{s.bold, "bold"}, {s.faint, "faint"}, {s.italic, "italic"}, {s.underline, "underline"},
		{s.blink, "blink"}, {s.reverse, "reverse"}, {s.strike, "strike"}} {
		if a.on {
			p = append(p, a.name)
		}
	}
	if s.fg != "" {
		p = append(p, "fg:"+s.fg)
	}
	if s.bg != "" {
		p = append(p, "bg:"+s.bg)
	}
	return strings.Join(p, " ")
}

// apply changes s by the parameters of one SGR sequence ("1;31", "38;5;9").
func (s *sgrState) apply(params string) {
	ps := strings.FieldsFunc(params, func(r rune) bool { return r == ';' })
	if len(ps) == 0 {
		*s = sgrState{}
		return
	}
	num := func(i int) int {
		if i >= len(ps) {
			return 0
		}
		// 4:3 (curly underline) and 38:5:9 forms: the first part decides
		n, _ := strconv.Atoi(strings.SplitN(ps[i], ":", 2)[0])
		return n
	}
	colour := func(i int) (string, int) {
		if strings.Contains(ps[i], ":") {
			return strings.SplitN(ps[i], ":", 2)[1], 1
		}
		switch num(i + 1) {
		case 5:
			return strconv.Itoa(num(i + 2)), 3
		case 2:
			return fmt.Sprintf("#%02x%02x%02x", num(i+2), num(i+3), num(i+4)), 5
		}
		return "?", 1
	}
	for i := 0; i < len(ps); {
		n, step := num(i), 1
		switch {
		case n == 0:
			*s = sgrState{}
		case n == 1:
			s.bold = true
		case n == 2:
			s.faint = true
		case n == 3:
			s.italic = true
		case n == 4:
			s.underline = !strings.HasSuffix(ps[i], ":0")
		case n == 5:
			s.blink = true
		case n == 7:
			s.reverse = true
		case n == 9:
			s.strike = true
		case n == 22:
			s.bold, s.faint = false, false
		case n == 23:
			s.italic = false
		case n == 24:
			s.underline = false
		case n == 25:
			s.blink = false
		case n == 27:
			s.reverse = false
		case n == 29:
			s.strike = false
		case n >= 30 && n <= 37:
			s.fg = strconv.Itoa(n - 30)
		case n >= 90 && n <= 97:
			s.fg = strconv.Itoa(n - 90 + 8)
		case n == 39:
			s.fg = ""
		case n >= 40 && n <= 47:
			s.bg = strconv.Itoa(n - 40)
		case n >= 100 && n <= 107:
			s.bg = strconv.Itoa(n - 100 + 8)
		case n == 49:
			s.bg = ""
		case n == 38:
			s.fg, step = colour(i)
		case n == 48:
			s.bg, step = colour(i)
		}
		i += step
	}
}

// styleCells returns the style of every cell of every line of a view, by
// the renderer's grapheme widths.
func styleCells(view string) [][]sgrState {
	var out [][]sgrState
	for _, line := range strings.Split(view, "\n") {
		var st sgrState
		var cells []sgrState
		var state byte
		for len(line) > 0 {
			seq, w, n, ns := ansi.DecodeSequence(line, state, nil)
			state = ns
			switch {
			case strings.HasPrefix(seq, "\x1b[") && strings.HasSuffix(seq, "m"):
				st.apply(seq[2 : len(seq)-1])
			case w > 0:
				for range w {
					cells = append(cells, st)
				}
			}
			line = line[n:]
		}
		out = append(out, cells)
	}
	return out
}

// styleRuns encodes a view's styles as text, one line per screen row that
// has any: "row │ from-to attributes · …" (columns inclusive). Text that
// loses its highlight, or a colour that leaks onto a border, changes it.
func styleRuns(view string) string {
	var b strings.Builder
	for row, cells := range styleCells(view) {
		var runs []string
		for x := 0; x < len(cells); {
			end := x
			for end+1 < len(cells) && cells[end+1] == cells[x] {
				end++
			}
			if s := cells[x].String(); s != "" {
				runs = append(runs, fmt.Sprintf("%d-%d %s", x, end, s))
			}
			x = end + 1
		}
		if len(runs) > 0 {
			fmt.Fprintf(&b, "%2d │ %s\n", row, strings.Join(runs, " · "))
		}
	}
	return b.String()
}

func TestStyleRuns(t *testing.T) {
	view := "\x1b[1mab\x1b[m c\n\x1b[31;7mé\x1b[39m😀\x1b[0m\n\x1b[38;5;9mx\x1b[m"
	want := " 0 │ 0-1 bold\n 1 │ 0-0 reverse fg:1 · 1-2 reverse\n 2 │ 0-0 fg:9\n"
	if got := styleRuns(view); got != want {
		t.Fatalf("styleRuns:\n%s\nwant:\n%s", got, want)
	}
}
