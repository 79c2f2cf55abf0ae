package cli

import (
	"runtime"

	"github.com/atotto/clipboard"
	"github.com/spf13/cobra"

	"github.com/tmaps/console/store"
	"github.com/tmaps/console/ui"
)

// runConsole runs the console (the TUI) on st. location says where the data
// lives; actor is the audit actor of the changes made in the console.
func runConsole(cmd *cobra.Command, st store.Store, location string, actor string, getenv func(string) string) error {
	cfg := ui.Config{Store: st, Location: location, Actor: actor,
		Clipboard: nativeClipboard(runtime.GOOS, getenv)}
	return ui.Run(cmd.Context(), cfg)
}

// nativeClipboard is the system clipboard's writer when there is one to
// reach, else nil (the console then copies with OSC 52 only): on Linux and
// the BSDs the clipboard tools need an X or Wayland display.
func nativeClipboard(goos string, getenv func(string) string) func(string) error {
	if clipboard.Unsupported {
		return nil
	}
	switch goos {
	case "linux", "freebsd", "openbsd", "netbsd", "dragonfly", "solaris":
		if getenv("DISPLAY") == "" && getenv("WAYLAND_DISPLAY") == "" {
			return nil
		}
	}
	return clipboard.WriteAll
}
