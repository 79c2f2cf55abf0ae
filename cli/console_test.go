package cli

import (
	"testing"

	"github.com/atotto/clipboard"
)

// Without an X or Wayland display there is no system clipboard to try (the
// console says it copied with OSC 52, not that xclip failed).
func TestNativeClipboardNeedsADisplay(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if nativeClipboard("linux", env(nil)) != nil {
		t.Fatal("a system clipboard without DISPLAY or WAYLAND_DISPLAY")
	}
	want := !clipboard.Unsupported
	for _, e := range []map[string]string{{"DISPLAY": ":0"}, {"WAYLAND_DISPLAY": "wayland-0"}} {
		if got := nativeClipboard("linux", env(e)) != nil; got != want {
			t.Errorf("with %v: a system clipboard %v, want %v", e, got, want)
		}
	}
	if got := nativeClipboard("darwin", env(nil)) != nil; got != want {
		t.Errorf("darwin: a system clipboard %v, want %v", got, want)
	}
}
