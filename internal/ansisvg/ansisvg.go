// Package ansisvg renders a terminal screen, captured as text with its SGR
// escape sequences (`tmux capture-pane -p -e`), as an SVG image. It knows
// the 16, 256 and truecolor SGR colours, bold, faint, italic, underline,
// strikethrough, reverse and conceal; it measures cells with the console's
// own width rules (grapheme clusters; CJK and emoji take two cells), and
// escapes everything it writes as XML text.
package ansisvg

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/charmbracelet/x/ansi"
)

// Options shape the image.
type Options struct {
	// Cols and Rows are the screen's size in cells; 0 takes the capture's
	// widest line and its number of lines.
	Cols, Rows int
	// Title is the image's accessible title (its <title>); empty: none.
	Title string
}

// Geometry of a cell and the frame, in SVG user units (px).
const (
	fontSize = 14
	cellW    = 8.4 // 0.6 em: the advance of common monospace fonts
	cellH    = 18
	pad      = 14
	baseline = 13.5 // from a row's top
)

// Default colours of the screen (a dark background, as the console assumes
// until the terminal reports its own).
const (
	defaultFG = "#cccccc"
	defaultBG = "#1e1e1e"
)

// palette16 are the 16 ANSI colours (normal, then bright).
var palette16 = [16]string{
	"#000000", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5",
	"#666666", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff",
}

// color is an SGR colour: the zero value is the terminal's default.
type color struct {
	kind    uint8 // 0 default, 1 indexed (0–255), 2 RGB
	idx     uint8
	r, g, b uint8
}

// hex resolves c to #rrggbb, def when c is the default colour.
func (c color) hex(def string) string {
	switch c.kind {
	case 1:
		return indexed(int(c.idx))
	case 2:
		return fmt.Sprintf("#%02x%02x%02x", c.r, c.g, c.b)
	}
	return def
}

// indexed returns the colour of the 256-colour palette at i: the 16 ANSI
// colours, the 6×6×6 cube, then 24 greys.
func indexed(i int) string {
	switch {
	case i < 16:
		return palette16[i]
	case i < 232:
		i -= 16
		lv := [6]int{0, 95, 135, 175, 215, 255}
		return fmt.Sprintf("#%02x%02x%02x", lv[i/36], lv[i/6%6], lv[i%6])
	default:
		g := 8 + 10*(i-232)
		return fmt.Sprintf("#%02x%02x%02x", g, g, g)
	}
}

// style is the SGR state of a cell.
type style struct {
	fg, bg                                 color
	bold, faint, italic, underline, strike bool
	reverse, conceal                       bool
}

// cell is one screen cell: the grapheme that starts there ("" for the
// second cell of a wide grapheme, " " when nothing was drawn) and its width.
type cell struct {
	g  string
	w  int
	st style
}

// screen is the parsed capture.
type screen struct {
	rows [][]cell
}

// Parse reads a capture into rows of cells: printable graphemes take the
// width ansi.StringWidth gives them (the console's rule), SGR sequences set
// the style, which carries from line to line as on a terminal; other
// escape sequences and control characters (but \t) are dropped.
func parse(capture string) *screen {
	capture = strings.ToValidUTF8(capture, "\uFFFD")
	sc := &screen{rows: [][]cell{nil}}
	p := ansi.NewParser()
	var st style
	var state byte
	for len(capture) > 0 {
		seq, w, n, ns := ansi.DecodeSequence(capture, state, p)
		if n <= 0 {
			n = 1
		}
		state = ns
		capture = capture[n:]
		row := &sc.rows[len(sc.rows)-1]
		switch {
		case w > 0:
			*row = append(*row, cell{g: seq, w: w, st: st})
			for i := 1; i < w; i++ {
				*row = append(*row, cell{st: st})
			}
		case seq == "\n":
			sc.rows = append(sc.rows, nil)
		case seq == "\t":
			*row = append(*row, cell{g: " ", w: 1, st: st})
			for len(*row)%8 != 0 {
				*row = append(*row, cell{g: " ", w: 1, st: st})
			}
		case strings.HasPrefix(seq, "\x1b["):
			if c := ansi.Cmd(p.Command()); c.Final() == 'm' && c.Prefix() == 0 && c.Intermediate() == 0 {
				st = applySGR(st, p.Params())
			}
		case seq != "" && seq[0] >= 0x80 && !unicode.IsControl([]rune(seq)[0]) && len(*row) > 0:
			// a zero-width grapheme (a lone combining mark, a joiner): it
			// joins the grapheme before it
			for i := len(*row) - 1; i >= 0; i-- {
				if (*row)[i].g != "" {
					(*row)[i].g += seq
					break
				}
			}
		}
	}
	if last := len(sc.rows) - 1; last > 0 && len(sc.rows[last]) == 0 {
		sc.rows = sc.rows[:last] // the capture's final newline
	}
	return sc
}

// applySGR applies one SGR sequence's parameters to st.
func applySGR(st style, ps ansi.Params) style {
	if len(ps) == 0 {
		return style{}
	}
	for i := 0; i < len(ps); i++ {
		v := ps[i].Param(0)
		switch {
		case v == 0:
			st = style{}
		case v == 1:
			st.bold = true
		case v == 2:
			st.faint = true
		case v == 3:
			st.italic = true
		case v == 4:
			// 4:0 is "no underline"; 4, 4:1…4:5 are kinds of underline
			st.underline = true
			if ps[i].HasMore() && i+1 < len(ps) {
				i++
				st.underline = ps[i].Param(1) != 0
			}
		case v == 7:
			st.reverse = true
		case v == 8:
			st.conceal = true
		case v == 9:
			st.strike = true
		case v == 21:
			st.underline = true
		case v == 22:
			st.bold, st.faint = false, false
		case v == 23:
			st.italic = false
		case v == 24:
			st.underline = false
		case v == 27:
			st.reverse = false
		case v == 28:
			st.conceal = false
		case v == 29:
			st.strike = false
		case v >= 30 && v <= 37:
			st.fg = color{kind: 1, idx: uint8(v - 30)}
		case v == 38:
			st.fg, i = extColor(ps, i)
		case v == 39:
			st.fg = color{}
		case v >= 40 && v <= 47:
			st.bg = color{kind: 1, idx: uint8(v - 40)}
		case v == 48:
			st.bg, i = extColor(ps, i)
		case v == 49:
			st.bg = color{}
		case v >= 90 && v <= 97:
			st.fg = color{kind: 1, idx: uint8(v - 90 + 8)}
		case v >= 100 && v <= 107:
			st.bg = color{kind: 1, idx: uint8(v - 100 + 8)}
		}
	}
	return st
}

// extColor reads the colour of an extended 38/48 parameter at ps[i], in
// either form (38;5;n and 38;2;r;g;b, or 38:5:n and 38:2:[cs:]r:g:b), and
// returns it with the index of the last parameter it used.
func extColor(ps ansi.Params, i int) (color, int) {
	colon := ps[i].HasMore()
	arg := func(j int) int {
		if j < len(ps) {
			return ps[j].Param(0)
		}
		return 0
	}
	clamp := func(v int) uint8 { return uint8(min(max(v, 0), 255)) }
	switch arg(i + 1) {
	case 5:
		return color{kind: 1, idx: clamp(arg(i + 2))}, i + 2
	case 2:
		j := i + 2
		if colon {
			// 38:2:cs:r:g:b names a colour space first; 38:2:r:g:b does not
			n := 0
			for k := i + 1; k < len(ps) && ps[k].HasMore(); k++ {
				n++
			}
			if n+1 >= 5 { // 2, cs, r, g, b
				j++
			}
		}
		return color{kind: 2, r: clamp(arg(j)), g: clamp(arg(j + 1)), b: clamp(arg(j + 2))}, j + 2
	}
	return color{}, i + 1
}

// colours returns the fill of the cell's text and of its background
// ("" for the screen's own background).
func (st style) colours() (fg, bg string) {
	fg, bg = st.fg.hex(defaultFG), st.bg.hex("")
	if st.reverse {
		fg, bg = bg, fg
		if fg == "" {
			fg = defaultBG
		}
	}
	if st.faint {
		under := bg
		if under == "" {
			under = defaultBG
		}
		fg = blend(fg, under, 0.55)
	}
	if st.conceal {
		fg = bg
		if fg == "" {
			fg = defaultBG
		}
	}
	return fg, bg
}

// blend mixes a (weight w) with b, both #rrggbb.
func blend(a, b string, w float64) string {
	var ar, ag, ab, br, bg, bb int
	fmt.Sscanf(a, "#%02x%02x%02x", &ar, &ag, &ab)
	fmt.Sscanf(b, "#%02x%02x%02x", &br, &bg, &bb)
	mix := func(x, y int) int { return int(float64(x)*w + float64(y)*(1-w) + 0.5) }
	return fmt.Sprintf("#%02x%02x%02x", mix(ar, br), mix(ag, bg), mix(ab, bb))
}

// Render returns the SVG image of capture.
func Render(capture string, opt Options) []byte {
	sc := parse(capture)
	cols, rows := opt.Cols, opt.Rows
	if cols <= 0 {
		for _, r := range sc.rows {
			cols = max(cols, len(r))
		}
	}
	if rows <= 0 {
		rows = len(sc.rows)
	}
	width := 2*pad + float64(cols)*cellW
	height := 2*pad + float64(rows*cellH)

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" role="img">`+"\n",
		num(width), num(height), num(width), num(height))
	if opt.Title != "" {
		b.WriteString("<title>")
		xmlText(&b, opt.Title)
		b.WriteString("</title>\n")
	}
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" rx="8" fill="%s"/>`+"\n", defaultBG)
	fmt.Fprintf(&b, `<g font-family="ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,'Liberation Mono',monospace" font-size="%d" xml:space="preserve" style="white-space:pre">`+"\n", fontSize)
	for y := 0; y < rows && y < len(sc.rows); y++ {
		row := sc.rows[y]
		if len(row) > cols {
			row = row[:cols]
		}
		backgrounds(&b, row, y)
		texts(&b, row, y)
	}
	b.WriteString("</g>\n</svg>\n")
	return b.Bytes()
}

// backgrounds draws the row's non-default backgrounds, one rect per run.
func backgrounds(b *bytes.Buffer, row []cell, y int) {
	for x := 0; x < len(row); {
		_, bg := row[x].st.colours()
		end := x + 1
		for end < len(row) {
			if _, b2 := row[end].st.colours(); b2 != bg {
				break
			}
			end++
		}
		if bg != "" {
			fmt.Fprintf(b, `<rect x="%s" y="%d" width="%s" height="%d" fill="%s"/>`+"\n",
				num(pad+float64(x)*cellW), pad+y*cellH, num(float64(end-x)*cellW), cellH, bg)
		}
		x = end
	}
}

// texts draws the row's text, one element per run of cells of one look; a
// wide grapheme is a run of its own, stretched to its cells, so that a font
// whose glyph is narrower or wider never moves what follows. Underlines and
// strikethroughs are lines of their own under every cell they cover,
// blanks included.
func texts(b *bytes.Buffer, row []cell, y int) {
	type look struct {
		fg           string
		bold, italic bool
	}
	lookOf := func(c cell) look {
		fg, _ := c.st.colours()
		return look{fg: fg, bold: c.st.bold, italic: c.st.italic}
	}
	decorations(b, row, y)
	for x := 0; x < len(row); {
		if row[x].g == "" { // the second cell of a wide grapheme
			x++
			continue
		}
		lk := lookOf(row[x])
		if blockRect(b, row[x], x, y, lk.fg) {
			x++
			continue
		}
		if _, ok := lines[row[x].g]; ok {
			end := x + 1 // a run of ─ is one line
			for row[x].g == "─" && end < len(row) && row[end].g == "─" && lookOf(row[end]) == lk {
				end++
			}
			lineArt(b, row[x].g, x, end, y, lk.fg)
			x = end
			continue
		}
		if row[x].g == " " {
			x++
			continue
		}
		end := x + row[x].w
		if row[x].w == 1 {
			for end < len(row) && row[end].w == 1 && lookOf(row[end]) == lk && !isBlock(row[end].g) && !isLine(row[end].g) {
				// two blanks end a run: renderers that collapse white
				// space then cannot move what follows
				if row[end].g == " " && (end+1 == len(row) || row[end+1].g == " ") {
					break
				}
				end++
			}
		}
		for row[end-1].g == " " {
			end--
		}
		var s strings.Builder
		for _, c := range row[x:end] {
			s.WriteString(c.g)
		}
		fmt.Fprintf(b, `<text x="%s" y="%s" fill="%s"`, num(pad+float64(x)*cellW), num(float64(pad+y*cellH)+baseline), lk.fg)
		if end-x > 1 {
			fmt.Fprintf(b, ` textLength="%s" lengthAdjust="spacingAndGlyphs"`, num(float64(end-x)*cellW))
		}
		if lk.bold {
			b.WriteString(` font-weight="bold"`)
		}
		if lk.italic {
			b.WriteString(` font-style="italic"`)
		}
		b.WriteString(">")
		xmlText(b, s.String())
		b.WriteString("</text>\n")
		x = end
	}
}

// Offsets of the underline and the strikethrough from a row's top.
const (
	underlineY = 15.5
	strikeY    = 9
)

// decorations draws the row's underlines and strikethroughs, one rect per
// run of cells of one colour.
func decorations(b *bytes.Buffer, row []cell, y int) {
	for _, d := range []struct {
		on  func(style) bool
		top float64
	}{
		{func(s style) bool { return s.underline }, underlineY},
		{func(s style) bool { return s.strike }, strikeY},
	} {
		for x := 0; x < len(row); {
			fg, _ := row[x].st.colours()
			if !d.on(row[x].st) {
				x++
				continue
			}
			end := x + 1
			for end < len(row) && d.on(row[end].st) {
				if f, _ := row[end].st.colours(); f != fg {
					break
				}
				end++
			}
			fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="1" fill="%s"/>`+"\n",
				num(pad+float64(x)*cellW), num(float64(pad+y*cellH)+d.top), num(float64(end-x)*cellW), fg)
			x = end
		}
	}
}

// isBlock reports whether g is a block element that blockRect draws.
func isBlock(g string) bool {
	r := []rune(g)
	return len(r) == 1 && (r[0] >= 0x2580 && r[0] <= 0x2590 || r[0] >= 0x2591 && r[0] <= 0x2593)
}

// blockRect draws the block elements the charts are made of (█, the lower
// eighths ▁…▇, the upper half ▀, the left eighths ▉…▏, the right half ▐,
// the shades ░▒▓) as rects of the cell, so that bars stack without the gaps
// a font's glyphs leave between lines; it reports whether c was one.
func blockRect(b *bytes.Buffer, c cell, x, y int, fill string) bool {
	if !isBlock(c.g) {
		return false
	}
	r := []rune(c.g)[0]
	x0, y0 := pad+float64(x)*cellW, float64(pad+y*cellH)
	w, h, top, left, opacity := cellW, float64(cellH), 0.0, 0.0, ""
	switch {
	case r == 0x2580: // upper half
		h = cellH / 2
	case r <= 0x2588: // lower eighths, full block
		h = float64(cellH) * float64(r-0x2580) / 8
		top = cellH - h
	case r <= 0x258f: // left eighths
		w = cellW * float64(0x2590-r) / 8
	case r == 0x2590: // right half
		w, left = cellW/2, cellW/2
	default: // shades
		opacity = [...]string{"0.25", "0.5", "0.75"}[r-0x2591]
	}
	fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"`, num(x0+left), num(y0+top), num(w), num(h), fill)
	if opacity != "" {
		fmt.Fprintf(b, ` fill-opacity="%s"`, opacity)
	}
	b.WriteString("/>\n")
	return true
}

// Arms of a box-drawing character, from the cell's centre.
const (
	up = 1 << iota
	down
	left
	right
	rounded
)

// lines are the light box-drawing characters (borders, chart axes) that
// lineArt draws.
var lines = map[string]int{
	"─": left | right, "│": up | down,
	"┌": down | right, "┐": down | left, "└": up | right, "┘": up | left,
	"├": up | down | right, "┤": up | down | left, "┬": down | left | right, "┴": up | left | right,
	"┼": up | down | left | right,
	"╭": down | right | rounded, "╮": down | left | rounded, "╰": up | right | rounded, "╯": up | left | rounded,
}

func isLine(g string) bool { _, ok := lines[g]; return ok }

// lineArt draws the box-drawing character g of the cells from x to end
// (more than one only for a run of ─) as strokes to the cells' edges, so
// that borders and axes join across lines whatever the font.
func lineArt(b *bytes.Buffer, g string, x, end, y int, stroke string) {
	arms := lines[g]
	x0, x1 := pad+float64(x)*cellW, pad+float64(end)*cellW
	y0 := float64(pad + y*cellH)
	cx, cy := x0+cellW/2, y0+cellH/2
	var d strings.Builder
	if arms&rounded != 0 {
		// a quarter turn of radius half a cell between the two arms
		r := cellW / 2
		vy, hx := y0, x0 // the vertical arm's end, the horizontal arm's end
		sy, sx := -r, -r // from the centre towards them
		if arms&down != 0 {
			vy, sy = y0+cellH, r
		}
		if arms&right != 0 {
			hx, sx = x1, r
		}
		fmt.Fprintf(&d, "M%s %sV%sQ%s %s %s %sH%s", num(cx), num(vy), num(cy+sy), num(cx), num(cy), num(cx+sx), num(cy), num(hx))
	} else {
		if arms&left != 0 || arms&right != 0 {
			from, to := cx, cx
			if arms&left != 0 {
				from = x0
			}
			if arms&right != 0 {
				to = x1
			}
			fmt.Fprintf(&d, "M%s %sH%s", num(from), num(cy), num(to))
		}
		if arms&up != 0 || arms&down != 0 {
			from, to := cy, cy
			if arms&up != 0 {
				from = y0
			}
			if arms&down != 0 {
				to = y0 + cellH
			}
			fmt.Fprintf(&d, "M%s %sV%s", num(cx), num(from), num(to))
		}
	}
	fmt.Fprintf(b, `<path d="%s" stroke="%s" stroke-width="1.2" fill="none"/>`+"\n", d.String(), stroke)
}

// xmlText writes s escaped as XML character data.
func xmlText(b *bytes.Buffer, s string) {
	xml.EscapeText(b, []byte(s)) // writes to a bytes.Buffer never fail
}

// num formats a coordinate without trailing zeros.
func num(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// ReadText returns the text an image made by Render shows, a string per
// row of cells with the text at its columns (wide graphemes take their
// cells); block elements and box-drawing lines, drawn as shapes, read as
// blanks. Tests read pictures with it.
func ReadText(img []byte) ([]string, error) {
	d := xml.NewDecoder(bytes.NewReader(img))
	var rows [][]string // cells: a grapheme, "" after a wide one
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read the SVG: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "text" {
			continue
		}
		var x, y float64
		for _, a := range se.Attr {
			switch a.Name.Local {
			case "x":
				x, _ = strconv.ParseFloat(a.Value, 64)
			case "y":
				y, _ = strconv.ParseFloat(a.Value, 64)
			}
		}
		var body string
		if err := d.DecodeElement(&body, &se); err != nil {
			return nil, fmt.Errorf("read the SVG: %w", err)
		}
		r, c := int((y-pad-baseline)/cellH+0.5), int((x-pad)/cellW+0.5)
		for len(rows) <= r {
			rows = append(rows, nil)
		}
		for rest := body; rest != ""; {
			g, w, n, _ := ansi.DecodeSequence(rest, 0, nil)
			rest = rest[max(n, 1):]
			for len(rows[r]) < c+max(w, 1) {
				rows[r] = append(rows[r], " ")
			}
			rows[r][c] = g
			for i := 1; i < w; i++ {
				rows[r][c+i] = ""
			}
			c += max(w, 1)
		}
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = strings.Join(r, "")
	}
	return out, nil
}
