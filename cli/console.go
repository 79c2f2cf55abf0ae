package cli

import (
	"github.com/atotto/clipboard"
	"github.com/spf13/cobra"

	"github.com/tmaps/console/store"
	"github.com/tmaps/console/ui"
)

// runConsole runs the console (the TUI) on st. location says where the data
// lives; actor is the audit actor of the changes made in the console.
func runConsole(cmd *cobra.Command, st store.Store, location string, actor string) error {
	cfg := ui.Config{Store: st, Location: location, Actor: actor}
	if !clipboard.Unsupported {
		cfg.Clipboard = clipboard.WriteAll
	}
	return ui.Run(cmd.Context(), cfg)
}
