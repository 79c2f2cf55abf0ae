package cli

import (
	"context"
	"io"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// fixedStore is the already-open store of a run started by
// ExecuteWithStore: the daemon's, used by its SSH sessions.
type fixedStore struct {
	st       store.Store
	location string
	actor    string
}

// open returns the fixed store; it is never closed by the command.
func (f *fixedStore) open(a *app) (store.Store, string, func(), error) {
	flags := a.root.PersistentFlags()
	if a.demo || flags.Changed("db") || flags.Changed("api") || flags.Changed("token") {
		return nil, "", nil, usagef("over SSH the commands work on the daemon's store: drop --db, --api, --token and --demo")
	}
	return f.st, f.location, func() {}, nil
}

// ExecuteWithStore runs the tmaps command line args against st, an
// already-open store that stays open, with actor as the audit actor of
// every change and role as what the commands may do (the daemon's SSH
// sessions use it): st is wrapped in store.Guard, so a command the role
// does not allow fails with "forbidden: <role> cannot <action>", changes
// nothing and is audited as refused. No environment variable is read. The
// console (no command), `serve` and `scan` (it would read the daemon's
// files) are refused: the caller serves the console itself.
func ExecuteWithStore(ctx context.Context, st store.Store, location, actor string, role model.Role, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{
		ctx:         ctx,
		stdin:       stdin,
		stdout:      stdout,
		stderr:      stderr,
		getenv:      func(string) string { return "" },
		outTTY:      isTerminal(stdout),
		inTTY:       isTerminal(stdin),
		now:         time.Now,
		lockTimeout: time.Second,
		fixed:       &fixedStore{st: store.Guard(st, role), location: location, actor: actor},
	}
	root := a.newRoot()
	if cmd, _, err := root.Find(args); err == nil && !wantsHelp(args) {
		switch {
		case cmd == root:
			a.printError(usagef("give a command, e.g. `keys list` (or log in with `ssh -t` for the console)"))
			return ExitUsage
		case cmd.Parent() == root && cmd.Name() == "serve":
			a.printError(usagef("serve cannot run inside the daemon"))
			return ExitUsage
		case cmd.Parent() == root && cmd.Name() == "scan":
			a.printError(usagef("scan reads local files: run it on your machine, with --api to look the secrets up"))
			return ExitUsage
		}
	}
	return a.execute(args)
}

// wantsHelp reports whether args ask for help.
func wantsHelp(args []string) bool {
	for _, s := range args {
		if s == "-h" || s == "--help" || s == "help" {
			return true
		}
	}
	return false
}
