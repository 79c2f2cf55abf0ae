package ansisvg

import (
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tmaps/console/ui/text"
)

// svgText is one <text> element of a rendered image.
type svgText struct {
	X, Y                float64
	Fill, Weight, Style string
	Length              string
	Body                string
}

// svgRect is one <rect> of a rendered image (the frame's first).
type svgRect struct {
	X, Y, W, H float64
	Fill       string
}

// decode parses img as XML (failing the test when it is not well formed)
// and returns its texts and rects.
func decode(t *testing.T, img []byte) ([]svgText, []svgRect) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(string(img)))
	var texts []svgText
	var rects []svgRect
	attr := func(se xml.StartElement, name string) string {
		for _, a := range se.Attr {
			if a.Name.Local == name {
				return a.Value
			}
		}
		return ""
	}
	f := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, img)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "text":
			var body string
			if err := d.DecodeElement(&body, &se); err != nil {
				t.Fatal(err)
			}
			texts = append(texts, svgText{X: f(attr(se, "x")), Y: f(attr(se, "y")), Fill: attr(se, "fill"),
				Weight: attr(se, "font-weight"), Style: attr(se, "font-style"),
				Length: attr(se, "textLength"), Body: body})
		case "rect":
			rects = append(rects, svgRect{X: f(attr(se, "x")), Y: f(attr(se, "y")), W: f(attr(se, "width")), H: f(attr(se, "height")), Fill: attr(se, "fill")})
		}
	}
	return texts, rects
}

// find returns the text element whose body is body.
func find(t *testing.T, texts []svgText, body string) svgText {
	t.Helper()
	for _, x := range texts {
		if x.Body == body {
			return x
		}
	}
	t.Fatalf("no <text> %q in %+v", body, texts)
	return svgText{}
}

// col is the cell column where an element at x starts.
func col(x float64) int { return int((x-pad)/cellW + 0.5) }

func TestColours16And256AndTruecolor(t *testing.T) {
	in := "\x1b[31mred\x1b[0m \x1b[92mbright\x1b[0m \x1b[38;5;196mc196\x1b[0m \x1b[38;5;244mg244\x1b[0m " +
		"\x1b[38;2;1;2;3mrgb\x1b[0m \x1b[38:2::10:20:30mcolon\x1b[0m \x1b[38:5:21mc21\x1b[39m plain\n" +
		"\x1b[44m bg \x1b[48;2;255;128;0mtc\x1b[49m\n"
	texts, rects := decode(t, Render(in, Options{}))
	for body, want := range map[string]string{
		"red": "#cd3131", "bright": "#23d18b", "c196": "#ff0000", "g244": "#808080",
		"rgb": "#010203", "colon": "#0a141e", "c21": "#0000ff", "plain": defaultFG,
	} {
		if got := find(t, texts, body).Fill; got != want {
			t.Errorf("%s: fill %s, want %s", body, got, want)
		}
	}
	var bgs []string
	for _, r := range rects[1:] {
		bgs = append(bgs, fmt.Sprintf("%d+%g %s", col(r.X), r.W/cellW, r.Fill))
	}
	if want := []string{"0+4 #2472c8", "4+2 #ff8000"}; fmt.Sprint(bgs) != fmt.Sprint(want) {
		t.Errorf("backgrounds %v, want %v", bgs, want)
	}
	if find(t, texts, "bg tc").Y <= find(t, texts, "red").Y { // one run: only backgrounds differ
		t.Error("the second line is not below the first")
	}
}

func TestAttributes(t *testing.T) {
	in := "\x1b[1mbold\x1b[22m \x1b[2mfaint\x1b[0m \x1b[3mital\x1b[23m \x1b[4munder\x1b[24m \x1b[4:0mnone\x1b[0m " +
		"\x1b[9mstrike\x1b[0m \x1b[7mrev\x1b[27m \x1b[7;32mrevg\x1b[0m \x1b[8mhidden\x1b[0m after"
	texts, rects := decode(t, Render(in, Options{}))
	if x := find(t, texts, "bold"); x.Weight != "bold" {
		t.Errorf("bold: %+v", x)
	}
	if x := find(t, texts, "faint"); x.Fill == defaultFG || x.Fill == defaultBG || x.Weight != "" {
		t.Errorf("faint is drawn like plain text or invisible: %+v", x)
	}
	if x := find(t, texts, "ital"); x.Style != "italic" {
		t.Errorf("italic: %+v", x)
	}
	// underline and strikethrough are lines of their own, under "under"
	// and through "strike"; 4:0 drew none under "none"
	var lines []string
	for _, r := range rects[1:] {
		if r.H == 1 {
			lines = append(lines, fmt.Sprintf("%d+%g at %s %s", col(r.X), r.W/cellW, num(r.Y-pad), r.Fill))
		}
	}
	if want := []string{"16+5 at 15.5 #cccccc", "27+6 at 9 #cccccc"}; fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Errorf("decorations %v, want %v", lines, want)
	}
	if x := find(t, texts, "under none strike"); x.Weight != "" || x.Fill != defaultFG {
		t.Errorf("%+v", x)
	}
	if x := find(t, texts, "after"); x.Weight != "" || x.Fill != defaultFG {
		t.Errorf("SGR 0 left a style on: %+v", x)
	}
	// reverse: the text takes the background's colour over a rect of the
	// foreground's
	rev, revg := find(t, texts, "rev"), find(t, texts, "revg")
	if rev.Fill != defaultBG || revg.Fill != defaultBG {
		t.Errorf("reversed text fills %s and %s, want %s", rev.Fill, revg.Fill, defaultBG)
	}
	under := map[int]string{}
	for _, r := range rects[1:] {
		under[col(r.X)] = r.Fill
	}
	if under[col(rev.X)] != defaultFG || under[col(revg.X)] != "#0dbc79" {
		t.Errorf("reverse backgrounds %v (rev at %d, revg at %d)", under, col(rev.X), col(revg.X))
	}
	if x := find(t, texts, "hidden"); x.Fill != defaultBG {
		t.Errorf("concealed text is visible: %+v", x)
	}
}

func TestXMLSpecialCharactersAreEscaped(t *testing.T) {
	in := "\x1b[1m<script>&amp; \"q\" 'a' ]]>\x1b[0m ok"
	img := Render(in, Options{Title: `tmaps <keys> & "more"`})
	texts, _ := decode(t, img) // fails on malformed XML
	if x := find(t, texts, `<script>&amp; "q" 'a' ]]>`); x.Weight != "bold" {
		t.Errorf("%+v", x)
	}
	if strings.Contains(string(img), "<script>") || !strings.Contains(string(img), "&lt;script&gt;&amp;amp;") {
		t.Errorf("text not escaped:\n%s", img)
	}
	if !strings.Contains(string(img), "<title>tmaps &lt;keys&gt; &amp; &#34;more&#34;</title>") {
		t.Errorf("title not escaped:\n%s", img)
	}
	// control characters and invalid UTF-8 never reach the XML
	img = Render("a\x00b\x07c\x1b]0;title\x07d\xffe\x1b[1mf", Options{})
	texts, _ = decode(t, img)
	if x := find(t, texts, "abcd\uFFFDe"); x.X != pad {
		t.Errorf("%+v", x)
	}
}

func TestWideGraphemesTakeTheConsoleWidth(t *testing.T) {
	family := "\U0001F468\u200D\U0001F469\u200D\U0001F467" // one ZWJ sequence
	for _, c := range []struct{ before, wide string }{
		{"ab", "界"}, {"x", "👍"}, {"", family}, {"é", "🇹🇳"},
	} {
		line := c.before + c.wide + "Z"
		texts, _ := decode(t, Render(line, Options{}))
		w := find(t, texts, c.wide)
		if want := text.Width(c.before); col(w.X) != want {
			t.Errorf("%q starts at column %d, want %d", c.wide, col(w.X), want)
		}
		if want := num(float64(text.Width(c.wide)) * cellW); w.Length != want {
			t.Errorf("%q is stretched to %s, want %s (its %d cells)", c.wide, w.Length, want, text.Width(c.wide))
		}
		if z, want := find(t, texts, "Z"), text.Width(c.before+c.wide); col(z.X) != want {
			t.Errorf("in %q, Z is at column %d, want %d (text.Width)", line, col(z.X), want)
		}
	}
	// a combining mark alone stays with its letter
	texts, _ := decode(t, Render("e\u0301x", Options{}))
	if x := find(t, texts, "e\u0301x"); x.Length != num(2*cellW) {
		t.Errorf("%+v", x)
	}
}

func TestSizeAndRuns(t *testing.T) {
	img := string(Render("hi\n", Options{Cols: 100, Rows: 30}))
	w, h := num(2*pad+100*cellW), num(2*pad+30*cellH)
	if !strings.Contains(img, `width="`+w+`" height="`+h+`"`) {
		t.Errorf("size: want %sx%s in\n%s", w, h, img)
	}
	// a line of one style is one element; the style carries to the next line
	texts, _ := decode(t, Render("\x1b[32mone two three\nfour\x1b[0m", Options{}))
	if len(texts) != 2 || texts[0].Body != "one two three" || texts[1].Fill != "#0dbc79" {
		t.Errorf("%+v", texts)
	}
	// tabs go to the next stop of 8
	texts, _ = decode(t, Render("a\tb", Options{}))
	if col(find(t, texts, "b").X) != 8 {
		t.Errorf("%+v", texts)
	}
	// two blanks split a run, so that a renderer collapsing white space
	// cannot move the text after them
	texts, _ = decode(t, Render("Name  Prefix ak_1", Options{}))
	if len(texts) != 2 || col(find(t, texts, "Prefix ak_1").X) != 6 {
		t.Errorf("%+v", texts)
	}
	if regexp.MustCompile(`<text[^>]*>\s*</text>`).MatchString(string(Render("   \x1b[7m  \x1b[0m   ", Options{}))) {
		t.Error("blank runs drawn as text")
	}
}

func TestUnderlinedBlanks(t *testing.T) {
	// a column header: bold words, underlined blanks between them
	texts, rects := decode(t, Render("\x1b[4m  \x1b[1mKeys\x1b[22m \x1b[1mused\x1b[0m", Options{}))
	if len(rects) != 2 || col(rects[1].X) != 0 || rects[1].W != num2(11*cellW) || rects[1].H != 1 {
		t.Errorf("one underline under the 11 cells: %+v", rects)
	}
	if len(texts) != 2 || texts[0].Body != "Keys" || col(texts[1].X) != 7 {
		t.Errorf("%+v", texts)
	}
}

// num2 rounds v as Render writes it.
func num2(v float64) float64 { f, _ := strconv.ParseFloat(num(v), 64); return f }

func TestBlockElementsAreRects(t *testing.T) {
	// a chart's bars: full, half and eighth blocks, a shade, in green
	texts, rects := decode(t, Render("\x1b[32m█▄▁▀▐░\x1b[0mx", Options{}))
	if len(texts) != 1 || texts[0].Body != "x" || col(texts[0].X) != 6 {
		t.Errorf("texts %+v", texts)
	}
	var got []string
	for _, r := range rects[1:] {
		got = append(got, fmt.Sprintf("%d %s w%s %s", col(r.X), num(r.Y-pad), num(r.W), r.Fill))
	}
	want := []string{"0 0 w8.4 #0dbc79", "1 9 w8.4 #0dbc79", "2 15.75 w8.4 #0dbc79", "3 0 w8.4 #0dbc79", "4 0 w4.2 #0dbc79", "5 0 w8.4 #0dbc79"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rects\n%v, want\n%v", got, want)
	}
}

func TestBoxDrawingJoinsAcrossCells(t *testing.T) {
	raw := Render("╭──╮\n│x │\n╰──╯", Options{})
	img := string(raw)
	texts, _ := decode(t, raw)
	if len(texts) != 1 || texts[0].Body != "x" {
		t.Errorf("only x is text: %+v", texts)
	}
	paths := regexp.MustCompile(`<path d="([^"]*)"`).FindAllStringSubmatch(img, -1)
	var ds []string
	for _, p := range paths {
		ds = append(ds, p[1])
	}
	// the corners turn (Q), a run of ─ is one line across both cells, │
	// spans its whole row so the border joins the rows above and below
	want := []string{
		"M18.2 32V27.2Q18.2 23 22.4 23H22.4", "M22.4 23H39.2", "M43.4 32V27.2Q43.4 23 39.2 23H39.2",
		"M18.2 32V50", "M43.4 32V50",
		"M18.2 50V54.8Q18.2 59 22.4 59H22.4", "M22.4 59H39.2", "M43.4 50V54.8Q43.4 59 39.2 59H39.2",
	}
	if fmt.Sprint(ds) != fmt.Sprint(want) {
		t.Errorf("paths\n%q\nwant\n%q", ds, want)
	}
}

func TestReadTextGivesBackTheScreen(t *testing.T) {
	screen := []string{
		"\x1b[1m tmaps console \x1b[0;2m demo",
		"",
		"  Name      界 \x1b[7mcafé.tn\x1b[0m  👍 <&>",
		"\x1b[32m██\x1b[0m ╭─╮ x",
	}
	got, err := ReadText(Render(strings.Join(screen, "\n"), Options{}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{" tmaps console  demo", "", "  Name      界 café.tn  👍 <&>", "       x"}
	if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
		t.Errorf("ReadText\n%q, want\n%q", got, want)
	}
	if _, err := ReadText([]byte("<svg><text>")); err == nil {
		t.Error("malformed SVG read without an error")
	}
}
