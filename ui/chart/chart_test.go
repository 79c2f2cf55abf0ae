package chart

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/model"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var fixedNow = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// series24 is a synthetic day: a curve, some 401s and 403s, a spike at the end.
func series24() []model.Bucket {
	var out []model.Bucket
	start := fixedNow.Add(-23 * time.Hour)
	for i := 0; i < 24; i++ {
		c := model.Counts{Allowed: uint64(100 + 40*i), Unauthorized: uint64(i % 5 * 10), Forbidden: uint64(i % 3 * 15)}
		if i == 23 {
			c.Allowed = 4000
		}
		if i == 5 {
			c = model.Counts{}
		}
		out = append(out, model.Bucket{Start: start.Add(time.Duration(i) * time.Hour), Counts: c})
	}
	return out
}

func TestGoldenCharts(t *testing.T) {
	plainStyles := &Styles{Plain: true}
	bs := series24()
	for _, c := range []struct {
		name      string
		barW, h   int
		bs        []model.Bucket
		labelDays bool
	}{
		{"chart-24h-w3-h8", 3, 8, bs, false},
		{"chart-24h-w1-h4", 1, 4, bs, false},
		{"chart-30d-w1-h6", 1, 6, model.Daily(bs, fixedNow, 30, time.UTC), true},
		{"chart-empty-w2-h3", 2, 3, model.Hourly(nil, fixedNow, 24), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			label := HourLabel(c.bs, time.UTC)
			if c.labelDays {
				label = DayLabel(c.bs)
			}
			lines := Bars(c.bs, c.barW, c.h, label, plainStyles)
			if len(lines) != c.h+2 {
				t.Fatalf("%d lines, want %d", len(lines), c.h+2)
			}
			got := strings.Join(lines, "\n") + "\n"
			path := filepath.Join("testdata", c.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(want) != got {
				t.Fatalf("chart differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
			}
		})
	}
}

func TestStackAndSpark(t *testing.T) {
	for _, c := range []struct {
		in    model.Counts
		cells int
		want  [4]int
	}{
		{model.Counts{}, 5, [4]int{}},
		{model.Counts{Allowed: 100}, 4, [4]int{4, 0, 0, 0}},
		{model.Counts{Allowed: 1000, Forbidden: 1}, 4, [4]int{4, 0, 0, 0}}, // a tiny share does not show
		{model.Counts{Allowed: 60, Unauthorized: 25, Forbidden: 15}, 8, [4]int{5, 2, 1, 0}},
		{model.Counts{Allowed: 50, Unauthorized: 50}, 4, [4]int{2, 2, 0, 0}},
		{model.Counts{Allowed: 5, Unauthorized: 1, Forbidden: 1}, 1, [4]int{1, 0, 0, 0}},
		{model.Counts{Allowed: 40, Limited: 40, Forbidden: 20}, 10, [4]int{4, 0, 2, 4}}, // 429s on top
	} {
		if got := Stack(c.in, c.cells); got != c.want {
			t.Errorf("Stack(%+v, %d) = %v, want %v", c.in, c.cells, got, c.want)
		}
	}
	if got := Totals(model.Counts{Allowed: 1234, Unauthorized: 1, Forbidden: 2}); got != "█ allowed 1,234  ▓ 401 1  ░ 403 2" {
		t.Errorf("Totals without 429s = %q", got)
	}
	if got := Totals(model.Counts{Allowed: 1, Limited: 4500}); got != "█ allowed 1  ▓ 401 0  ░ 403 0  ▒ 429 4,500" {
		t.Errorf("Totals with 429s = %q", got)
	}
	var plain Styles
	plain.Plain = true
	bars := Bars([]model.Bucket{{Counts: model.Counts{Allowed: 2, Limited: 2}}}, 1, 4, func(int) string { return "" }, &plain)
	if bars[0] != "4 ┤▒" || bars[3] != "  │█" {
		t.Errorf("a bar of 2 allowed and 2 429s:\n%s", strings.Join(bars, "\n"))
	}
	if got := Spark([]uint64{0, 1, 2, 4, 8}, 5); got != " ▁▂▄█" {
		t.Errorf("Spark = %q", got)
	}
	if got := Spark([]uint64{1, 1, 0, 0, 2, 2}, 3); got != "▄ █" {
		t.Errorf("Spark summing pairs = %q", got)
	}
	for n, want := range map[uint64]string{950: "950", 5481: "5.4k", 1000: "1.0k", 12345: "12.3k", 999_999: "999k", 1_234_567: "1.2M"} {
		if got := Short(n); got != want {
			t.Errorf("Short(%d) = %q, want %q", n, got, want)
		}
	}
}
