// Command tmaps is the console for the API keys and authorized domains of the
// TMaps Mapping API: a TUI, a scriptable CLI and the daemon that enforces the
// keys at request time.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tmaps/console/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
