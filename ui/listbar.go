package ui

import (
	"strings"

	"github.com/tmaps/console/ui/list"
	"github.com/tmaps/console/ui/text"
	"github.com/tmaps/console/ui/theme"
)

// countLabel says what a list shows: "15 keys", "3 of 15 keys" under a
// filter, and where the window is when the rows do not all fit:
// "1,201–1,240 of 100,000 keys", "1–40 of 1,234 matches · 100,000 keys".
func countLabel(l *list.Model, total int, noun string, filtered bool) string {
	n := l.Len()
	all := text.Plural(total, noun)
	from, to := l.Visible()
	scrolled := n > l.Height()
	switch {
	case !filtered && !scrolled:
		return all
	case !filtered:
		return span(from, to) + " of " + all
	case !scrolled:
		return text.Thousands(n) + " of " + all
	}
	matches := text.Thousands(n) + " matches"
	if n == 1 {
		matches = "1 match"
	}
	return span(from, to) + " of " + matches + " · " + all
}

// span is rows [from, to) counted from 1: "1,201–1,240".
func span(from, to int) string {
	return text.Thousands(from+1) + "–" + text.Thousands(to)
}

// toolbar is a list page's first line: left (the filter) and, at the
// right, the count and the sort (dropped first when the line is short).
func toolbar(t *theme.Theme, left, count, sort string, w int) string {
	for _, right := range []string{count + " · sort: " + sort + " ", count + " "} {
		if gap := w - text.Width(left) - text.Width(right); gap >= 1 {
			return left + strings.Repeat(" ", gap) + t.Faint.Render(right)
		}
	}
	return text.Truncate(left, w)
}
