// Package cli holds the cobra commands of the tmaps binary: the console (the
// root command), keys, domains, check, audit and the daemon. Commands write
// to injected streams only, so they run the same in tests and in main.
package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/tmaps/console/internal/buildinfo"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/server/share"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
)

// Exit codes of the binary.
const (
	ExitOK      = 0 // success
	ExitError   = 1 // the command failed
	ExitUsage   = 2 // bad command line: unknown command or flag, missing argument
	ExitRefused = 4 // not found, a confirmation refused or missing, or forbidden by role
)

// usageError is a mistake in the command line; it exits with ExitUsage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// refusedError is a confirmation that was refused or missing; it exits with
// ExitRefused and leaves the store unchanged.
type refusedError struct{ msg string }

func (e *refusedError) Error() string { return e.msg }

func refusedf(format string, args ...any) error {
	return &refusedError{fmt.Sprintf(format, args...)}
}

// app is one run of the binary: its streams, environment and global flags.
type app struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// outTTY and inTTY say whether stdout and stdin are terminals: tables
	// and prompts on a terminal, tab-separated text and no prompt otherwise.
	outTTY, inTTY bool
	now           func() time.Time
	// lockTimeout is how long to wait for a store another process holds.
	lockTimeout time.Duration

	// Global flags, as parsed; resolve them with dbPath, apiURL, apiToken.
	db, api, token string
	caCert         string
	demo           bool
	// readOnly (--read-only) restricts the store to the auditor role.
	readOnly bool
	etcd     etcdFlags

	// running is set when a command's own code starts: errors cobra
	// reports before that (unknown command or flag, bad arguments) are
	// usage errors.
	running bool
	in      *bufio.Reader
	root    *cobra.Command
	// fixed is the already-open store of ExecuteWithStore, nil otherwise.
	fixed *fixedStore
	// local is the store file this process opened itself (not --api, not
	// --demo, not through another process's share), and its path: the
	// console shares it with the user's other commands.
	local     *bolt.Store
	localPath string
}

// registered are the constructors of commands that other files of this
// package add from an init function with register (e.g. serve, tokens).
// It is written only during package initialisation.
var registered []func(*app) *cobra.Command

// register adds a top-level command; call it from an init function.
func register(mk func(*app) *cobra.Command) { registered = append(registered, mk) }

// Execute runs the tmaps command line args (without the program name) and
// returns the process exit code. getenv supplies the TMAPS_* configuration.
func Execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{
		ctx:         ctx,
		stdin:       stdin,
		stdout:      stdout,
		stderr:      stderr,
		getenv:      getenv,
		outTTY:      isTerminal(stdout),
		inTTY:       isTerminal(stdin),
		now:         time.Now,
		lockTimeout: time.Second,
	}
	return a.execute(args)
}

// isTerminal reports whether v is an *os.File open on a terminal (not
// merely a character device: /dev/null is one too).
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && f != nil && term.IsTerminal(f.Fd())
}

func (a *app) execute(args []string) int {
	if args == nil {
		args = []string{} // cobra falls back to os.Args on nil
	}
	if a.getenv == nil {
		a.getenv = func(string) string { return "" }
	}
	root := a.newRoot()
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	cmd, err := root.ExecuteContextC(a.ctx)
	if err == nil {
		return ExitOK
	}
	code := a.exitCode(err)
	a.printError(err)
	if code == ExitUsage && cmd != nil {
		fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

func (a *app) exitCode(err error) int {
	var ue *usageError
	var re *refusedError
	switch {
	case errors.As(err, &ue) || !a.running:
		return ExitUsage
	case errors.Is(err, errFound):
		return ExitFound
	case errors.As(err, &re), errors.Is(err, model.ErrConfirmMismatch), errors.Is(err, store.ErrNotFound), errors.Is(err, model.ErrForbidden):
		return ExitRefused
	}
	return ExitError
}

// printError writes err to stderr, each line escaped for the terminal. A
// refusal by role is printed alone, whatever the command wrapped it in:
// "forbidden: auditor cannot revoke keys".
func (a *app) printError(err error) {
	msg := err.Error()
	if i := strings.Index(msg, "forbidden: "); i > 0 && errors.Is(err, model.ErrForbidden) {
		msg = msg[i:]
	}
	lines := strings.Split(msg, "\n")
	for i, l := range lines {
		if i == 0 {
			fmt.Fprintf(a.stderr, "tmaps: %s\n", model.Escape(l))
		} else {
			fmt.Fprintln(a.stderr, model.Escape(l))
		}
	}
}

// warnf writes a warning line to stderr. Callers escape user strings.
func (a *app) warnf(format string, args ...any) {
	fmt.Fprintf(a.stderr, "warning: "+format+"\n", args...)
}

// runE marks the start of a command's own code (see app.running).
func (a *app) runE(f func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a.running = true
		return f(cmd, args)
	}
}

// group is the RunE of a command that only holds subcommands.
func (a *app) group(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return unknownCommand(cmd, args[0])
	}
	return cmd.Help()
}

// unknownCommand is the usage error for an unknown subcommand, with a
// suggestion when one is close.
func unknownCommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %q?", s[0])
	}
	return &usageError{msg}
}

// nargs checks the number of positional arguments and names what is
// missing or extra, with the command's usage line.
func nargs(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < min:
			return usagef("missing argument: usage: %s", cmd.UseLine())
		case max >= 0 && len(args) > max:
			return usagef("too many arguments (%d): usage: %s", len(args), cmd.UseLine())
		}
		return nil
	}
}

const rootLong = `tmaps manages the API keys and authorized domains of the TMaps Mapping API.

Without a command it opens the console (a terminal UI) on the local store.
Every action is also a command below, with --json output for scripts.

With --read-only it works as an auditor: everything can be read, nothing
changed (a change is refused with "forbidden: auditor cannot …").

Configuration: defaults, then TMAPS_DB, TMAPS_API and TMAPS_TOKEN, then flags.
Exit codes: 0 ok, 1 error, 2 usage error, 3 scan found a live key,
4 not found, refused or forbidden.`

func (a *app) newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "tmaps",
		Short:         "Console for the API keys and authorized domains of the TMaps Mapping API",
		Long:          rootLong,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			return nil
		},
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			st, location, done, err := a.openStore()
			if err != nil {
				return err
			}
			defer done()
			if a.local != nil {
				// The file is ours while the console runs: the user's other
				// tmaps commands reach it through us.
				if sh, err := share.Serve(a.local, a.local, a.localPath, share.Options{RuntimeDir: a.getenv("XDG_RUNTIME_DIR")}); err == nil {
					defer sh.Close()
				} else {
					fmt.Fprintf(a.stderr, "tmaps: other commands cannot reach this store while the console runs: %v\n", err)
				}
			}
			return runConsole(cmd, st, location, a.actor(), a.consoleRole(st), a.now, a.getenv)
		}),
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.Version = buildinfo.Get().String()
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{err.Error()}
	})
	pf := root.PersistentFlags()
	pf.StringVar(&a.db, "db", "", "store file (env TMAPS_DB; default "+a.defaultDB()+")")
	pf.StringVar(&a.api, "api", "", "use the management API at URL instead of a local store (env TMAPS_API)")
	pf.StringVar(&a.token, "token", "", "operator token for --api (env TMAPS_TOKEN, preferred: flags show in ps)")
	pf.StringVar(&a.caCert, "ca-cert", "", "PEM file of the CA that signed the --api server's certificate, for a private CA (env TMAPS_CA_CERT)")
	pf.BoolVar(&a.demo, "demo", false, "use a throw-away store filled with demo data")
	pf.BoolVar(&a.readOnly, "read-only", false, "work as an auditor: read everything, change nothing")
	a.addEtcdFlags(pf)

	root.AddCommand(a.keysCmd(), a.domainsCmd(), a.checkCmd(), a.auditCmd())
	for _, mk := range registered {
		root.AddCommand(mk(a))
	}
	a.root = root
	return root
}

// defaultDB is $XDG_DATA_HOME/tmaps/console.db, or
// ~/.local/share/tmaps/console.db when XDG_DATA_HOME is unset or relative.
func (a *app) defaultDB() string {
	if x := a.getenv("XDG_DATA_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "tmaps", "console.db")
	}
	home := a.getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".local", "share", "tmaps", "console.db")
}

// setting resolves one global setting: the flag when given, else the
// environment variable, else def.
func (a *app) setting(flagChanged bool, flagVal, env, def string) string {
	if flagChanged {
		return flagVal
	}
	if v := a.getenv(env); v != "" {
		return v
	}
	return def
}
