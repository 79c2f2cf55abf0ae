package cli

import (
	"github.com/spf13/cobra"

	"github.com/tmaps/console/store"
)

// runConsole runs the console (the TUI) on st. location says where the data
// lives; actor is the audit actor of the changes made in the console.
// Until the TUI lands it prints the help.
func runConsole(cmd *cobra.Command, st store.Store, location string, actor string) error {
	return cmd.Help()
}
