package keymap

import (
	"reflect"
	"testing"

	"charm.land/bubbles/v2/key"
)

// TestPressMatchesEveryBinding: every key of every binding can be typed by
// Press (so the command palette can run any of them) and matches it.
func TestPressMatchesEveryBinding(t *testing.T) {
	km := New()
	n := 0
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		if b, ok := v.Interface().(key.Binding); ok {
			for _, k := range b.Keys() {
				msg, ok := Press(k)
				if !ok || !key.Matches(msg, b) {
					t.Errorf("%s: Press(%q) = %v (%v), does not match", path, k, msg, ok)
				}
				n++
			}
			return
		}
		for i := 0; i < v.NumField(); i++ {
			walk(v.Field(i), path+"."+v.Type().Field(i).Name)
		}
	}
	walk(reflect.ValueOf(km), "KeyMap")
	if n < 50 {
		t.Fatalf("only %d keys walked", n)
	}
	if _, ok := Press("nonsense"); ok {
		t.Error(`Press("nonsense") is ok`)
	}
}
