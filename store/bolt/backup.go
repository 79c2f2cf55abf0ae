package bolt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

var _ store.Backuper = (*Store)(nil)

// Backup writes a copy of the whole file as of one read transaction: a
// consistent store file while writes go on. A long backup delays writes
// that need to grow the file until it ends.
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	var n int64
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// ErrNotAStore is returned by Verify and Restore for a file that is not a
// tmaps store (or a damaged one).
var ErrNotAStore = errors.New("not a tmaps store")

// ErrExists is returned by Restore when the destination exists and
// replacing it was not asked for.
var ErrExists = errors.New("the destination store already exists")

// Summary counts what a store file holds.
type Summary struct {
	Size    int64
	Keys    int
	Domains int
	Audit   int
	Tokens  int
}

// Verify opens path read-only and checks that it is a tmaps store of this
// version whose pages are consistent (bbolt's check), and counts it.
func Verify(path string) (Summary, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Summary{}, err
	}
	if !fi.Mode().IsRegular() {
		return Summary{}, fmt.Errorf("%w: %s is not a regular file", ErrNotAStore, model.Escape(path))
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return Summary{}, store.InUseError(fmt.Sprintf("%s is open in a running tmaps: back it up with `tmaps backup` and restore the copy", model.Escape(path)))
	case err != nil:
		return Summary{}, fmt.Errorf("%w: %s: %v", ErrNotAStore, model.Escape(path), err)
	}
	defer db.Close()
	sum := Summary{Size: fi.Size()}
	err = db.View(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bMeta)
		if meta == nil {
			return errors.New("no meta bucket")
		}
		if v := meta.Get([]byte("version")); string(v) != schemaVersion {
			return fmt.Errorf("store version %q, this tmaps knows version %s", v, schemaVersion)
		}
		for _, b := range [][]byte{bKeys, bKeyIDs, bKeyDigests, bDomains, bAudit, bTokens} {
			if tx.Bucket(b) == nil {
				return fmt.Errorf("no %s bucket", b)
			}
		}
		for err := range tx.Check() {
			return fmt.Errorf("damaged: %v", err)
		}
		sum.Keys = tx.Bucket(bKeys).Stats().KeyN
		sum.Domains = tx.Bucket(bDomains).Stats().KeyN
		sum.Audit = tx.Bucket(bAudit).Stats().KeyN
		sum.Tokens = tx.Bucket(bTokens).Stats().KeyN
		return nil
	})
	if err != nil {
		return Summary{}, fmt.Errorf("%w: %s: %v", ErrNotAStore, model.Escape(path), err)
	}
	return sum, nil
}

// Restore verifies src (see Verify) and puts a copy of it at dest,
// atomically (a temporary file renamed over dest). An existing dest is
// replaced only with replace, and never while a process holds it.
func Restore(src, dest string, replace bool) (Summary, error) {
	sum, err := Verify(src)
	if err != nil {
		return Summary{}, err
	}
	if same, _ := sameFile(src, dest); same {
		return Summary{}, fmt.Errorf("%s is the store itself: restore from a backup file", model.Escape(src))
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		return Summary{}, fmt.Errorf("create the directory of the store: %w", err)
	}
	// Hold dest's lock (bbolt's flock) while it is replaced, so a running
	// daemon's store is refused rather than swapped under it.
	if old, err := os.OpenFile(dest, os.O_RDWR, 0); err == nil {
		defer old.Close()
		if !replace {
			return Summary{}, fmt.Errorf("%w: %s", ErrExists, model.Escape(dest))
		}
		if err := syscall.Flock(int(old.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			return Summary{}, store.InUseError(fmt.Sprintf("the store at %s is open in a running tmaps: stop `tmaps serve` first", model.Escape(dest)))
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return Summary{}, err
	}
	if err := copyFile(src, dest); err != nil {
		return Summary{}, fmt.Errorf("restore %s: %w", model.Escape(dest), err)
	}
	return sum, nil
}

// copyFile copies src to dest through a synced temporary file in dest's
// directory, renamed over dest.
func copyFile(src, dest string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dest), ".tmaps-restore-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err = io.Copy(tmp, in); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), dest); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(dest))
}

// SyncDir makes a rename in dir durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
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
