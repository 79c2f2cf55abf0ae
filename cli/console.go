package cli

import (
	"context"
	"runtime"
	"time"

	"github.com/atotto/clipboard"
	"github.com/spf13/cobra"

	"github.com/tmaps/console/internal/memtune"
	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/wire"
	"github.com/tmaps/console/ui"
)

// runConsole runs the console (the TUI) on st. location says where the data
// lives; actor is the audit actor of the changes made in the console, and
// role what the console offers. The process's memory follows what the
// console holds (memtune) while it runs.
func runConsole(cmd *cobra.Command, st store.Store, location, actor string, role model.Role, now func() time.Time, getenv func(string) string) error {
	defer memtune.Start()()
	cfg := ui.Config{Store: st, Location: location, Actor: actor, Role: role, Now: now,
		Clipboard: nativeClipboard(runtime.GOOS, getenv)}
	return ui.Run(cmd.Context(), cfg)
}

// consoleRole is the role the console shows: auditor with --read-only,
// the token's own over --api (GET /v1/whoami; the server checks it
// anyway), else admin.
func (a *app) consoleRole(st store.Store) model.Role {
	if a.readOnly {
		return model.RoleAuditor
	}
	if w, ok := st.(interface {
		WhoAmI(context.Context) (wire.WhoAmI, error)
	}); ok {
		if me, err := w.WhoAmI(a.ctx); err == nil && me.Role.Valid() {
			return me.Role
		}
	}
	return model.RoleAdmin
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
