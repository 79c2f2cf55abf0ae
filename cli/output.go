package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/tmaps/console/model"
)

// printJSON writes v as indented JSON on stdout.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table is rows of cells. On a terminal it prints aligned with a header;
// otherwise tab-separated without a header, one row per line. Every cell is
// escaped, so user strings can be put in as they are.
type table struct {
	header []string
	rows   [][]string
	// wide are columns truncated on a terminal beyond this many characters.
	wide map[int]int
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (a *app) printTable(t *table) error {
	if !a.outTTY {
		w := bufio.NewWriter(a.stdout)
		for _, r := range t.rows {
			for i, c := range r {
				if i > 0 {
					w.WriteByte('\t')
				}
				w.WriteString(model.Escape(c))
			}
			w.WriteByte('\n')
		}
		return w.Flush()
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	writeRow := func(cells []string, escape bool) {
		for i, c := range cells {
			if i > 0 {
				io.WriteString(tw, "\t")
			}
			if escape {
				c = model.Escape(c)
			}
			if n, ok := t.wide[i]; ok {
				c = truncate(c, n)
			}
			io.WriteString(tw, c)
		}
		io.WriteString(tw, "\n")
	}
	if len(t.header) > 0 {
		writeRow(t.header, false)
	}
	for _, r := range t.rows {
		writeRow(r, true)
	}
	return tw.Flush()
}

// fields prints label/value pairs: aligned "Label:  value" on a terminal,
// "label<TAB>value" otherwise. Values are escaped.
type fields [][2]string

func (f *fields) add(label, value string) { *f = append(*f, [2]string{label, value}) }

func (a *app) printFields(f fields) error {
	width := 0
	for _, p := range f {
		width = max(width, utf8.RuneCountInString(p[0]))
	}
	w := bufio.NewWriter(a.stdout)
	for _, p := range f {
		if a.outTTY {
			fmt.Fprintf(w, "%-*s  %s\n", width+1, p[0]+":", model.Escape(p[1]))
		} else {
			fmt.Fprintf(w, "%s\t%s\n", fieldName(p[0]), model.Escape(p[1]))
		}
	}
	return w.Flush()
}

// fieldName is a label as scripts read it: "Requests (24h)" → "requests_24h".
func fieldName(label string) string {
	f := strings.FieldsFunc(strings.ToLower(label), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	})
	return strings.Join(f, "_")
}

// truncate shortens s to at most n characters, ending with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// shellQuote quotes s for a POSIX shell, for commands suggested in messages.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// q escapes a user string for a message.
func q(s string) string { return model.Escape(s) }

// qq escapes and double-quotes a user string for a message.
func qq(s string) string { return `"` + model.Escape(s) + `"` }

// domainLabel is a stored ASCII domain name with its Unicode form beside it
// when they differ: "xn--caf-dma.tn (café.tn)".
func domainLabel(ascii string) string {
	if u := model.DomainUnicode(ascii); u != ascii && u != "" {
		return ascii + " (" + u + ")"
	}
	return ascii
}

// domainsSummary is the linked-domains column of a key: "a.tn, b.tn +2",
// or "unrestricted".
func domainsSummary(domains []string) string {
	if len(domains) == 0 {
		return "unrestricted"
	}
	shown := domains
	if len(shown) > 2 {
		shown = shown[:2]
	}
	var parts []string
	for _, d := range shown {
		parts = append(parts, model.DomainUnicode(d))
	}
	s := strings.Join(parts, ", ")
	if n := len(domains) - len(shown); n > 0 {
		s += fmt.Sprintf(" +%d", n)
	}
	return s
}
