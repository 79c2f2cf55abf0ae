package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
	"github.com/tmaps/console/store/etcd"
)

func init() { register((*app).migrateCmd) }

const migrateLong = `Copy a whole store into another backend: keys (their secrets stay digests),
domains, links, the audit log, usage (hourly and daily counts, refused and
matched hosts, last uses), operator tokens, alerts and leak marks.

  tmaps migrate --from bolt:/var/lib/tmaps/console.db --to etcd:https://10.0.0.1:2379,https://10.0.0.2:2379
  tmaps migrate --from etcd:https://10.0.0.1:2379 --to bolt:/var/lib/tmaps/console.db

The etcd side takes --etcd-prefix, --etcd-ca, --etcd-cert and --etcd-key (or
TMAPS_ETCD_PREFIX, ...). The source is read as of one moment (one bolt read
transaction, one etcd revision) and checked whole before anything is
written; then the target is counted again and the counts are compared and
printed. A target that holds data is refused unless --force, which replaces
it (back it up first). A bolt target is written to a temporary file and
renamed into place, so a failure leaves it as it was.

Stop the daemon that holds a bolt file (source or target) first; an etcd
source may stay in use, but stop the nodes of an etcd target.`

func (a *app) migrateCmd() *cobra.Command {
	var from, to string
	var force bool
	c := &cobra.Command{
		Use:   "migrate --from bolt:PATH|etcd:URLS --to bolt:PATH|etcd:URLS",
		Short: "Copy a whole store between a bolt file and an etcd cluster",
		Long:  migrateLong,
		Args:  nargs(0, 0),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			if a.fixed != nil {
				return usagef("migrate works on the host of the stores, not over SSH")
			}
			if from == "" || to == "" {
				return usagef("give both --from and --to, e.g. --from bolt:/var/lib/tmaps/console.db --to etcd:https://10.0.0.1:2379")
			}
			src, err := a.parseSide("--from", from)
			if err != nil {
				return err
			}
			dst, err := a.parseSide("--to", to)
			if err != nil {
				return err
			}
			if src.String() == dst.String() {
				return usagef("--from and --to name the same store (%s)", model.Escape(src.String()))
			}
			return a.migrate(src, dst, force, "migrated")
		}),
	}
	f := c.Flags()
	f.StringVar(&from, "from", "", "the store to copy: bolt:PATH or etcd:URLS (comma-separated client URLs)")
	f.StringVar(&to, "to", "", "where to copy it: bolt:PATH or etcd:URLS")
	f.BoolVar(&force, "force", false, "replace a target that holds data")
	return c
}

// side is one end of a migration.
type side struct {
	path string       // bolt file
	etcd etcd.Options // etcd cluster (Endpoints set)
}

func (s side) String() string {
	if s.path != "" {
		return "bolt:" + s.path
	}
	return "etcd:" + strings.Join(s.etcd.Endpoints, ",") + " " + s.etcd.Prefix
}

func (a *app) parseSide(flag, v string) (side, error) {
	kind, rest, _ := strings.Cut(v, ":")
	switch {
	case kind == "bolt" && rest != "":
		p, err := filepath.Abs(rest)
		if err != nil {
			return side{}, err
		}
		return side{path: p}, nil
	case kind == "etcd" && rest != "":
		opt, _, err := a.etcdOptionsFor(rest)
		if err != nil {
			return side{}, err
		}
		return side{etcd: opt}, nil
	}
	return side{}, usagef("%s %q: give bolt:PATH (a store file) or etcd:URLS (client URLs, comma-separated)", flag, v)
}

// exporter opens the source of a migration.
func (a *app) exporter(s side) (store.Exporter, func(), error) {
	if s.path != "" {
		if _, err := os.Stat(s.path); err != nil {
			return nil, nil, fmt.Errorf("%s: no such store file (check the path after bolt:)", model.Escape(s.path))
		}
		if _, err := bolt.Verify(s.path); err != nil {
			if errors.Is(err, store.ErrInUse) {
				return nil, nil, store.InUseError(fmt.Sprintf("%s is held by a running tmaps: stop it, or back it up (tmaps backup FILE) and migrate the copy", model.Escape(s.path)))
			}
			return nil, nil, fmt.Errorf("%w: nothing was written", err)
		}
		b, err := bolt.Open(s.path, bolt.Options{Timeout: a.lockTimeout, Now: a.now})
		if err != nil {
			return nil, nil, err
		}
		return b, func() { b.Close() }, nil
	}
	e, err := etcd.Open(a.ctx, s.etcd)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (check the URLs, and --etcd-ca, --etcd-cert, --etcd-key for TLS)", err)
	}
	return e, func() { e.Close() }, nil
}

// migrate copies the store at src into dst; verb names it in the last line
// ("migrated", "restored").
func (a *app) migrate(src, dst side, force bool, verb string) error {
	ctx := a.ctx
	in, closeIn, err := a.exporter(src)
	if err != nil {
		return err
	}
	defer closeIn()
	export := func(fn func(store.Item) error) error { return in.Export(ctx, fn) }
	want, err := store.CheckExport(ctx, export)
	if err != nil {
		return fmt.Errorf("the source %s does not check out, nothing was written: %w", model.Escape(src.String()), err)
	}
	var got store.DumpCounts
	if dst.path != "" {
		if got, err = a.importBolt(dst.path, force, export); err != nil {
			return err
		}
	} else if got, err = a.importEtcd(dst.etcd, force, export); err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s does not hold what %s held: %s, want %s: run the command again with --force", model.Escape(dst.String()), model.Escape(src.String()), got, want)
	}
	fmt.Fprintf(a.stderr, "%s %s to %s: %s (counted again in the target)\n", verb, model.Escape(src.String()), model.Escape(dst.String()), got)
	return nil
}

// importBolt writes a new store file at path and counts it again.
func (a *app) importBolt(path string, force bool, export func(fn func(store.Item) error) error) (store.DumpCounts, error) {
	if _, err := os.Stat(path); err == nil {
		// An existing file: refuse one a daemon holds, and one with data
		// unless told.
		b, err := bolt.Open(path, bolt.Options{Timeout: a.lockTimeout, Now: a.now})
		if err != nil {
			return store.DumpCounts{}, fmt.Errorf("%w: stop the daemon that holds it, then migrate", err)
		}
		c, err := store.CountExport(a.ctx, b)
		b.Close()
		if err != nil && !force {
			return store.DumpCounts{}, refusedf("%s is not a readable store (%v): add --force to replace it", model.Escape(path), err)
		}
		if c != (store.DumpCounts{}) && !force {
			return store.DumpCounts{}, refusedf("%s already holds a store (%s): add --force to replace it (back it up first: tmaps --db %s backup FILE)", model.Escape(path), c, model.Escape(path))
		}
	}
	if _, err := bolt.Import(a.ctx, path, true, export); err != nil {
		return store.DumpCounts{}, fmt.Errorf("the copy into %s failed, the file is as it was: %w", model.Escape(path), err)
	}
	b, err := bolt.Open(path, bolt.Options{Timeout: a.lockTimeout, Now: a.now})
	if err != nil {
		return store.DumpCounts{}, err
	}
	defer b.Close()
	return store.CountExport(a.ctx, b)
}

// importEtcd writes the items into the cluster's prefix and counts it again.
func (a *app) importEtcd(opt etcd.Options, force bool, export func(fn func(store.Item) error) error) (store.DumpCounts, error) {
	opt.Node = "import-" + nodeName()
	e, err := etcd.Open(a.ctx, opt)
	if err != nil {
		return store.DumpCounts{}, fmt.Errorf("%w (check the URLs, and --etcd-ca, --etcd-cert, --etcd-key for TLS)", err)
	}
	defer e.Close()
	where := fmt.Sprintf("the etcd prefix %s at %s", model.Escape(opt.Prefix), model.Escape(strings.Join(opt.Endpoints, ",")))
	has, err := e.HasData(a.ctx)
	if err != nil {
		return store.DumpCounts{}, err
	}
	if has {
		if !force {
			return store.DumpCounts{}, refusedf("%s already holds a store: add --force to replace it (back it up first: tmaps --etcd %s --etcd-prefix %s backup FILE)",
				where, model.Escape(strings.Join(opt.Endpoints, ",")), model.Escape(opt.Prefix))
		}
		if err := e.Wipe(a.ctx); err != nil {
			return store.DumpCounts{}, fmt.Errorf("clearing %s: %w", where, err)
		}
	}
	if _, err := e.Import(a.ctx, export); err != nil {
		return store.DumpCounts{}, fmt.Errorf("the copy into %s stopped: %w; part of the data may be there: run the same command with --force to start over", where, err)
	}
	return store.CountExport(a.ctx, e)
}
