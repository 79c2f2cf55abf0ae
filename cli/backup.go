package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
)

func init() {
	register((*app).backupCmd)
	register((*app).restoreCmd)
}

const backupLong = `Write a consistent copy of the whole store to FILE while it stays in use:
keys, domains, links, the audit log, usage and operator token digests, as of
one moment. The copy is a store file: open it with --db FILE, or put it back
with ` + "`tmaps restore`" + `.

With --etcd, the copy is the cluster's data as of one etcd revision, written
as the same kind of store file (built in the temporary directory first).

With a daemon running, back up through it: tmaps --api URL backup FILE (the
copy comes from GET /v1/backup and its SHA-256 is checked), or over SSH:
ssh -p PORT HOST backup - > FILE. Without a daemon, tmaps --db PATH backup FILE.

FILE is written to a temporary file beside it, checked (a tmaps store whose
pages are consistent), then renamed; an existing FILE is replaced only with
--force. "-" writes to stdout (not to a terminal). See docs/operations.md for
a retention schedule.`

func (a *app) backupCmd() *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "backup FILE|-",
		Short: "Back up the store to FILE, online (a consistent copy)",
		Long:  backupLong,
		Args:  nargs(1, 1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			return a.backup(args[0], force)
		}),
	}
	c.Flags().BoolVar(&force, "force", false, "replace FILE when it exists")
	return c
}

func (a *app) backup(file string, force bool) error {
	toStdout := file == "-"
	switch {
	case toStdout && a.outTTY:
		return usagef("refusing to write a binary store to the terminal: redirect it (backup - > FILE) or give a FILE")
	case !toStdout && a.fixed != nil:
		return usagef("over SSH, a backup goes to your side: ssh … backup - > FILE")
	}
	var dest string
	if !toStdout {
		var err error
		if dest, err = filepath.Abs(file); err != nil {
			return err
		}
		if _, err := os.Stat(dest); err == nil && !force {
			return refusedf("%s exists: add --force to replace it, or pick a new name (e.g. with the date)", dest)
		}
	}
	st, location, done, err := a.openStore()
	if err != nil {
		return err
	}
	defer done()
	b, ok := st.(store.Backuper)
	if !ok {
		return errors.New("this store cannot be backed up")
	}
	if toStdout {
		n, err := b.Backup(store.WithActor(a.ctx, a.actor()), a.stdout)
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		fmt.Fprintf(a.stderr, "backed up %s (%d bytes) to stdout\n", model.Escape(location), n)
		return nil
	}
	if same, _ := sameFile(dest, location); same {
		return usagef("%s is the store itself: back up to another file", dest)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), ".tmaps-backup-*")
	if err != nil {
		return fmt.Errorf("backup: %w (check that the directory exists and is writable)", err)
	}
	ok = false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err := b.Backup(store.WithActor(a.ctx, a.actor()), tmp); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	sum, err := bolt.Verify(tmp.Name())
	if err != nil {
		return fmt.Errorf("backup: the copy does not check out, nothing was written to %s: %w", dest, err)
	}
	if err := os.Rename(tmp.Name(), dest); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	ok = true
	if err := bolt.SyncDir(filepath.Dir(dest)); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(a.stderr, "backed up %s to %s: %d bytes, %d keys, %d domains, %d audit entries, %d tokens\n",
		model.Escape(location), model.Escape(dest), sum.Size, sum.Keys, sum.Domains, sum.Audit, sum.Tokens)
	return nil
}

const restoreLong = `Put the store of a backup FILE in place of the local store (--db or
TMAPS_DB): FILE must be a tmaps store whose pages are consistent, it is copied
to a temporary file beside the store, then renamed over it.

With --etcd URLS (or TMAPS_ETCD), FILE is loaded into the cluster's prefix
instead, like ` + "`tmaps migrate --from bolt:FILE --to etcd:URLS`" + `: checked whole
first, then written and counted again; a prefix that holds data is replaced
only with --force (stop the nodes first).

The store must not be in use: stop ` + "`tmaps serve`" + ` first (restore refuses a
store a running daemon holds). An existing store is replaced only with
--force; back it up first if you may want it again. Restore never works over
--api: it replaces the daemon's file, on the daemon's host.`

func (a *app) restoreCmd() *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "restore FILE",
		Short: "Replace the local store with a backup (the daemon stopped)",
		Long:  restoreLong,
		Args:  nargs(1, 1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			return a.restore(args[0], force)
		}),
	}
	c.Flags().BoolVar(&force, "force", false, "replace the existing store")
	return c
}

func (a *app) restore(file string, force bool) error {
	flags := a.root.PersistentFlags()
	switch {
	case a.fixed != nil:
		return usagef("restore replaces the daemon's store file: stop the daemon, then run `tmaps restore FILE --db PATH` on its host")
	case a.demo:
		return usagef("--demo uses a throw-away store: restore into a store with --db PATH")
	case a.setting(flags.Changed("api"), a.api, "TMAPS_API", "") != "":
		return usagef("restore does not work over --api: stop the daemon, then run `tmaps restore FILE --db PATH` on its host (unset TMAPS_API)")
	}
	eopt, useEtcd, err := a.etcdOptions()
	if err != nil {
		return err
	}
	if useEtcd {
		if flags.Changed("db") {
			return usagef("--etcd restores into the cluster: drop --db")
		}
		src, err := filepath.Abs(file)
		if err != nil {
			return err
		}
		// Into a cluster: the backup file's data loaded like a migration.
		return a.migrate(side{path: src}, side{etcd: eopt}, force, "restored")
	}
	dest := a.setting(flags.Changed("db"), a.db, "TMAPS_DB", a.defaultDB())
	if dest == "" {
		return usagef("--db needs a file path")
	}
	if abs, err := filepath.Abs(dest); err == nil {
		dest = abs
	}
	sum, err := bolt.Restore(file, dest, force)
	switch {
	case errors.Is(err, bolt.ErrExists):
		return refusedf("%s already holds a store: add --force to replace it (back it up first: tmaps --db %s backup FILE)", dest, dest)
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s: no such file", file)
	case err != nil:
		return err
	}
	fmt.Fprintf(a.stderr, "restored %s to %s: %d keys, %d domains, %d audit entries, %d tokens\n",
		model.Escape(file), model.Escape(dest), sum.Keys, sum.Domains, sum.Audit, sum.Tokens)
	return nil
}

func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}
