package model

import (
	"strings"
	"testing"
)

// BenchmarkDecideHotOrigin is the gate's hot path: an active key with three
// domains and an Origin (already lowercase) that matches the last one.
// It must report 0 allocs/op.
func BenchmarkDecideHotOrigin(b *testing.B) {
	in := GateInput{
		HTTPS:   true,
		Key:     keyWith(Active, "app.mysite.tn", "localhost", "mysite.tn"),
		APIKeys: []string{goodSecret},
		Origin:  "https://mysite.tn",
		Referer: "https://mysite.tn/carte?z=12",
	}
	b.ReportAllocs()
	for b.Loop() {
		if d := Decide(in); !d.Allowed() {
			b.Fatal(d)
		}
	}
}

// BenchmarkDecideRefused: a refused Origin and Referer, with the body.
func BenchmarkDecideRefused(b *testing.B) {
	in := GateInput{
		HTTPS:   true,
		Key:     keyWith(Active, "app.mysite.tn", "localhost", "mysite.tn"),
		APIKeys: []string{goodSecret},
		Origin:  "https://mysite.tn.evil.com",
		Referer: "https://mysite.tn.evil.com/" + strings.Repeat("p", 200),
	}
	b.ReportAllocs()
	for b.Loop() {
		if d := Decide(in); d.Allowed() || len(d.Body()) == 0 {
			b.Fatal(d)
		}
	}
}

func BenchmarkHeaderHost(b *testing.B) {
	for _, c := range []struct{ name, h string }{
		{"origin", "https://mysite.tn"},
		{"dev-port", "http://localhost:5173"},
		{"referer", "https://app.mysite.tn/some/page?with=query#frag"},
		{"uppercase", "https://App.MySite.TN"},
	} {
		h := c.h
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := HeaderHost(h); !ok {
					b.Fatal(h)
				}
			}
		})
	}
}
