package etcd

import (
	"context"
	"io"
	"os"
	"path/filepath"

	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/bolt"
)

var _ store.Backuper = (*Store)(nil)

// Backup implements store.Backuper: the store as of one etcd revision
// (Export), written as a tmaps store file (the bolt format) that `tmaps
// restore` puts in place of a local store and `tmaps --etcd … restore`
// loads into a cluster. The file is built in the temporary directory
// first, so that needs room for it.
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	dir, err := os.MkdirTemp("", "tmaps-etcd-backup-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "backup.db")
	if _, err := bolt.Import(ctx, path, false, func(fn func(store.Item) error) error { return s.Export(ctx, fn) }); err != nil {
		return 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.Copy(w, f)
}
