package model

import (
	"fmt"
	"strings"
	"testing"
)

func TestFindSecrets(t *testing.T) {
	s := "ak_0123456789abcdef0123456789abcdef"
	for _, c := range []struct {
		text string
		want []int
	}{
		{s, []int{0}},
		{"API_KEY=" + s + "\n", []int{8}},
		{`const k = "` + s + `";`, []int{11}},
		{"?api_key=" + s + "&x=1", []int{9}},
		{s + " " + s, []int{0, 36}},
		{"xak_0123456789abcdef0123456789abcdef", nil},        // glued to a word
		{s + "0", nil},                                       // a 33rd hex digit
		{s + "g", nil},                                       // followed by a letter
		{"ak_0123456789ABCDEF0123456789abcdef", nil},         // upper case is not ours
		{"ak_0123456789abcdef0123456789abcde", nil},          // 31 hex digits
		{"ak_ak_0123456789abcdef0123456789abcdef", []int{3}}, // "_" may come before
		{"_" + s, []int{1}},
		{"\x00\x01" + s + "\x00", []int{2}},
		{"", nil},
	} {
		got := FindSecrets([]byte(c.text), 0, len(c.text), true)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("FindSecrets(%q) = %v, want %v", c.text, got, c.want)
		}
	}
	// At the end of a chunk, a secret counts only when nothing follows.
	if got := FindSecrets([]byte("x="+s), 0, 100, false); got != nil {
		t.Errorf("a secret at the chunk's end counted before the next chunk: %v", got)
	}
	// The byte before the chunk decides too.
	if got := FindSecrets([]byte(s+"\n"), 'x', 100, true); got != nil {
		t.Errorf("prev byte ignored: %v", got)
	}
	if got := FindSecrets([]byte(strings.Repeat(s+"\n", 3)), 0, 40, true); fmt.Sprint(got) != "[0 36]" {
		t.Errorf("limit: %v", got)
	}
}
