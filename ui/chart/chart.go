// Package chart draws usage in the terminal: stacked bar charts of
// allowed, 401, 403 and 429 requests, and sparklines. Each outcome has its own
// glyph, so the charts read the same without colour.
package chart

import (
	"math"
	"strconv"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/ui/text"
	"github.com/tmaps/console/ui/theme"
)

// Glyphs of the charts. Each outcome has its own shape, so the charts read
// the same without colour (NO_COLOR, golden tests).
const (
	glyphAllowed = '█'
	glyph401     = '▓'
	glyph403     = '░'
	glyph429     = '▒'
)

// Styles colour the chart glyphs; the zero value draws them plain.
type Styles struct {
	Allowed, Unauth, Forbidden, Limited lipgloss.Style
	Plain                               bool
}

// NewStyles colours the outcomes from the theme.
func NewStyles(th *theme.Theme) Styles {
	return Styles{Allowed: th.Ok, Unauth: th.Warn, Forbidden: th.Err, Limited: th.Secret}
}

func (s *Styles) paint(r rune, run string) string {
	if s.Plain {
		return run
	}
	switch r {
	case glyphAllowed:
		return s.Allowed.Render(run)
	case glyph401:
		return s.Unauth.Render(run)
	case glyph403:
		return s.Forbidden.Render(run)
	case glyph429:
		return s.Limited.Render(run)
	}
	return run
}

// Short writes a count in at most 5 characters: 950, 5.4k, 12.3k, 999k,
// 1.2M.
func Short(n uint64) string {
	switch {
	case n < 1_000:
		return strconv.FormatUint(n, 10)
	case n < 100_000:
		return strconv.FormatFloat(math.Floor(float64(n)/100)/10, 'f', 1, 64) + "k"
	case n < 1_000_000:
		return strconv.FormatUint(n/1000, 10) + "k"
	case n < 100_000_000:
		return strconv.FormatFloat(math.Floor(float64(n)/100_000)/10, 'f', 1, 64) + "M"
	}
	return strconv.FormatUint(n/1_000_000, 10) + "M"
}

// Stack splits a bar of cells rows among the four outcomes (bottom to
// top: allowed, 401, 403, 429) in proportion, by largest remainder: a share
// below half a cell does not show (the totals above the chart count it).
func Stack(c model.Counts, cells int) [4]int {
	var out [4]int
	total := c.Total()
	if total == 0 || cells <= 0 {
		return out
	}
	parts := [4]uint64{c.Allowed, c.Unauthorized, c.Forbidden, c.Limited}
	var rem [4]float64
	rest := cells
	for i, p := range parts {
		share := float64(p) / float64(total) * float64(cells)
		out[i] = int(share)
		rem[i] = share - float64(out[i])
		rest -= out[i]
	}
	for ; rest > 0; rest-- {
		best := 0
		for i := range rem {
			if rem[i] > rem[best] {
				best = i
			}
		}
		out[best]++
		rem[best] = -1
	}
	return out
}

// Bars draws buckets as stacked vertical bars, barW cells wide with one
// space between bars, height rows tall, with a y axis (the largest total at
// the top, 0 at the bottom), an x axis, and below it the labels label(i)
// returns for some bars ("" for none). It returns height+2 lines.
func Bars(bs []model.Bucket, barW, height int, label func(i int) string, st *Styles) []string {
	if height < 1 {
		height = 1
	}
	var top uint64
	for _, b := range bs {
		top = max(top, b.Total())
	}
	topLabel, zero := Short(top), "0"
	gut := max(len(topLabel), len(zero))
	cols := make([][4]int, len(bs))
	for i, b := range bs {
		if top == 0 || b.Total() == 0 {
			continue
		}
		cells := int(math.Round(float64(b.Total()) / float64(top) * float64(height)))
		cells = max(cells, 1)
		cols[i] = Stack(b.Counts, cells)
	}
	lines := make([]string, 0, height+2)
	var row strings.Builder
	var run strings.Builder
	for r := height - 1; r >= 0; r-- { // r: 0 = bottom row
		row.Reset()
		switch r {
		case height - 1:
			row.WriteString(text.PadLeft(topLabel, gut) + " ┤")
		default:
			row.WriteString(strings.Repeat(" ", gut) + " │")
		}
		cur := rune(0)
		run.Reset()
		flush := func() {
			if run.Len() > 0 {
				row.WriteString(st.paint(cur, run.String()))
				run.Reset()
			}
		}
		for i := range bs {
			g := ' '
			a, u, f, l := cols[i][0], cols[i][1], cols[i][2], cols[i][3]
			switch {
			case r < a:
				g = glyphAllowed
			case r < a+u:
				g = glyph401
			case r < a+u+f:
				g = glyph403
			case r < a+u+f+l:
				g = glyph429
			}
			for k := 0; k < barW+1; k++ {
				c := g
				if k == barW {
					c = ' '
				}
				if c != cur {
					flush()
					cur = c
				}
				run.WriteRune(c)
			}
		}
		flush()
		lines = append(lines, strings.TrimRight(row.String(), " "))
	}
	span := len(bs) * (barW + 1)
	lines = append(lines, text.PadLeft(zero, gut)+" └"+strings.Repeat("─", max(0, span-1)))
	// Labels: each starts at its bar, and only where it does not run into
	// the previous one.
	lab := []rune(strings.Repeat(" ", gut+2+span+8))
	next := 0
	for i := range bs {
		l := label(i)
		x := gut + 2 + i*(barW+1)
		if l == "" || x < next {
			continue
		}
		for j, c := range []rune(l) {
			if x+j < len(lab) {
				lab[x+j] = c
			}
		}
		next = x + len([]rune(l)) + 1
	}
	lines = append(lines, strings.TrimRight(string(lab), " "))
	return lines
}

var sparkRunes = []rune(" ▁▂▃▄▅▆▇█")

// Spark draws values in width cells, summing neighbouring values when
// there are more values than cells. A zero is a space, anything else at
// least ▁.
func Spark(vals []uint64, width int) string {
	if width <= 0 || len(vals) == 0 {
		return ""
	}
	cells := make([]uint64, width)
	for i, v := range vals {
		cells[i*width/len(vals)] += v
	}
	if len(vals) < width {
		cells = cells[:0]
		cells = append(cells, vals...)
	}
	var top uint64
	for _, v := range cells {
		top = max(top, v)
	}
	var b strings.Builder
	for _, v := range cells {
		if v == 0 || top == 0 {
			b.WriteByte(' ')
			continue
		}
		n := 1 + int(float64(v)/float64(top)*7.999)
		b.WriteRune(sparkRunes[min(n, 8)])
	}
	return b.String()
}

// Totals is "█ allowed 1,234  ▓ 401 12  ░ 403 3", the legend and sums,
// and "  ▒ 429 7" when some requests were refused with 429.
func Totals(c model.Counts) string {
	s := "█ allowed " + text.Thousands(int(c.Allowed)) + "  ▓ 401 " + text.Thousands(int(c.Unauthorized)) + "  ░ 403 " + text.Thousands(int(c.Forbidden))
	if c.Limited > 0 {
		s += "  ▒ 429 " + text.Thousands(int(c.Limited))
	}
	return s
}

// HourLabel labels every sixth hour of an hourly chart.
func HourLabel(bs []model.Bucket, loc *time.Location) func(int) string {
	return func(i int) string {
		t := bs[i].Start.In(loc)
		if t.Hour()%6 == 0 {
			return t.Format("15h")
		}
		return ""
	}
}

// DayLabel labels every seventh day of a daily chart, the last included.
func DayLabel(bs []model.Bucket) func(int) string {
	return func(i int) string {
		if (len(bs)-1-i)%7 == 0 {
			return bs[i].Start.Format("Jan 2")
		}
		return ""
	}
}

// BarsFor is how many bars of barW cells fit in width, at most n.
func BarsFor(width, n int) (bars, barW int) {
	room := width - 8 // y-axis gutter and margins
	barW = min(3, max(1, room/n-1))
	return min(n, max(1, room/(barW+1))), barW
}
