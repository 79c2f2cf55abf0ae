package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

func init() { register((*app).scanCmd) }

// ExitFound is the exit code of `tmaps scan` when it finds a live key.
const ExitFound = 3

// errFound makes scan exit with ExitFound.
var errFound = errors.New("live keys found: rotate them (tmaps keys rotate KEY), revoke the old ones, and take the secrets out of the files")

const scanLong = `Look for API key secrets (ak_ and 32 hex characters) in files and
directories, e.g. a git work tree before pushing, and say which key each one
is, with its status: only its display prefix is printed, never the secret.

Every file under each PATH is read, text or binary (a binary file is reported
with the byte offset), including files git ignores (a .env file is where a
secret usually sits, and ignored files still travel in backups, images and
caches); .git directories are skipped and symbolic links are not followed.

Each secret is looked up by its SHA-256 digest in the store (--db, or the
daemon with --api and any token, even an auditor's). A live key (active or
disabled: not revoked) makes scan exit with 3, so a pre-push hook can stop a
push:

    tmaps --api https://tmaps.example.tn:8443 scan . || exit 1

Exit codes: 0 no live key, 3 a live key was found, 1 an error (a path that
cannot be read, the store unreachable).`

// scanFinding is one secret found in a file.
type scanFinding struct {
	Path   string `json:"path"`
	Line   int    `json:"line,omitempty"`   // text files, from 1
	Column int    `json:"column,omitempty"` // bytes, from 1
	Offset int64  `json:"offset"`           // bytes, from 0
	Binary bool   `json:"binary"`
	Prefix string `json:"prefix"`
	// Key is the store's key of the secret, nil when it is none of ours.
	Key  *scanKey `json:"key"`
	Live bool     `json:"live"`

	digest model.Digest
}

// scanKey is what scan says of a key.
type scanKey struct {
	ID      string       `json:"id"`
	Name    string       `json:"name"`
	Status  model.Status `json:"status"`
	Expired bool         `json:"expired"`
	Leaked  time.Time    `json:"leaked,omitzero"`
}

func (a *app) scanCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "scan PATH...",
		Short: "Find API key secrets in files and say which key each is (exit 3 on a live key)",
		Long:  scanLong,
		Args:  nargs(1, -1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			var found []scanFinding
			files, failed := 0, 0
			for _, root := range args {
				n, err := scanPath(root, func(f scanFinding) { found = append(found, f) }, func(path string, err error) {
					failed++
					a.warnf("%s: %s", q(path), q(err.Error()))
				})
				files += n
				if err != nil {
					return err
				}
			}
			if err := a.lookUpFindings(found); err != nil {
				return err
			}
			live, revoked, unknown := 0, 0, 0
			for _, f := range found {
				switch {
				case f.Key == nil:
					unknown++
				case f.Live:
					live++
				default:
					revoked++
				}
			}
			if asJSON {
				if found == nil {
					found = []scanFinding{}
				}
				if err := a.printJSON(found); err != nil {
					return err
				}
			} else {
				for _, f := range found {
					fmt.Fprintln(a.stdout, a.findingLine(f))
				}
			}
			fmt.Fprintf(a.stderr, "scanned %d files: %d secrets (%d live, %d revoked, %d not keys of this store)\n",
				files, len(found), live, revoked, unknown)
			switch {
			case live > 0:
				return errFound
			case failed > 0:
				return fmt.Errorf("%d paths could not be read", failed)
			}
			return nil
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the findings as JSON")
	return c
}

// findingLine is one finding for people.
func (a *app) findingLine(f scanFinding) string {
	where := fmt.Sprintf("%s:%d:%d", q(f.Path), f.Line, f.Column)
	if f.Binary {
		where = fmt.Sprintf("%s (binary, byte %d)", q(f.Path), f.Offset)
	}
	what := f.Prefix + "…"
	switch {
	case f.Key == nil:
		return fmt.Sprintf("%s: %s not a key of this store", where, what)
	case f.Live:
		leak := ""
		if !f.Key.Leaked.IsZero() {
			leak = ", already reported leaked"
		}
		return fmt.Sprintf("%s: %s key %s (%s) %s%s: LIVE", where, what, qq(f.Key.Name), f.Key.ID, f.Key.Status, leak)
	}
	return fmt.Sprintf("%s: %s key %s (%s) revoked: harmless, remove it anyway", where, what, qq(f.Key.Name), f.Key.ID)
}

// lookUpFindings finds each secret's key in the store, by digest only.
func (a *app) lookUpFindings(found []scanFinding) error {
	if len(found) == 0 {
		return nil
	}
	return a.withStore(func(ctx context.Context, st store.Store) error {
		keys := map[model.Digest]*scanKey{}
		now := a.now()
		for i := range found {
			f := &found[i]
			k, seen := keys[f.digest]
			if !seen {
				mk, err := st.KeyByDigest(ctx, f.digest)
				switch {
				case errors.Is(err, store.ErrNotFound):
				case err != nil:
					return fmt.Errorf("look the secrets up: %w", err)
				default:
					k = &scanKey{ID: mk.ID, Name: mk.Name, Status: mk.Status, Expired: mk.Expired(now), Leaked: mk.Leaked}
				}
				keys[f.digest] = k
			}
			f.Key = k
			f.Live = k != nil && k.Status != model.Revoked
		}
		return nil
	})
}

// scanPath scans a file, or every file under a directory, calling found
// for each secret (in path order) and bad for each path it cannot read.
// It returns the number of files read.
func scanPath(root string, found func(scanFinding), bad func(string, error)) (int, error) {
	fi, err := os.Lstat(root)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", q(root), err)
	}
	if !fi.IsDir() {
		if !fi.Mode().IsRegular() {
			return 0, fmt.Errorf("%s is not a file or a directory", q(root))
		}
		return 1, scanFile(root, found, bad)
	}
	var paths []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			bad(path, err)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.Name() == ".git" {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil // a worktree's or submodule's .git file
		}
		if d.Type().IsRegular() {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := scanFile(p, found, bad); err != nil {
			return 0, err
		}
	}
	return len(paths), nil
}

// scanChunk is how much of a file is read at once.
const scanChunk = 1 << 20

// scanFile reads one file in chunks and reports its secrets.
func scanFile(path string, found func(scanFinding), bad func(string, error)) error {
	f, err := os.Open(path)
	if err != nil {
		bad(path, err)
		return nil
	}
	defer f.Close()
	if err := scanReader(path, f, found); err != nil {
		bad(path, err)
	}
	return nil
}

// scanReader reports the secrets of r; it keeps the last SecretLen bytes
// of a chunk for the next, so that a secret across two reads is found.
func scanReader(path string, r io.Reader, found func(scanFinding)) error {
	buf := make([]byte, 0, scanChunk+model.SecretLen)
	var base int64         // file offset of buf[0]
	line := 1              // line of the next byte to count
	var lineStartAbs int64 // file offset of that line's start
	var prev byte
	binary := false
	first := true
	for {
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		end := err == io.EOF || err == io.ErrUnexpectedEOF
		if err != nil && !end {
			return err
		}
		if first {
			binary = bytes.IndexByte(buf[:min(len(buf), 8000)], 0) >= 0
			first = false
		}
		// Keep a tail that may hold the start of a secret, unless this is
		// the end of the file.
		limit := len(buf)
		if !end {
			limit = len(buf) - model.SecretLen
		}
		pos := 0
		for _, i := range model.FindSecrets(buf, prev, limit, end) {
			// Advance the line count to i.
			for j := pos; j < i; j++ {
				if buf[j] == '\n' {
					line++
					lineStartAbs = base + int64(j+1)
				}
			}
			pos = i
			col := int(base + int64(i) - lineStartAbs + 1)
			secret := string(buf[i : i+model.SecretLen])
			fd := scanFinding{Path: path, Offset: base + int64(i), Binary: binary, Prefix: model.DisplayPrefix(secret), digest: model.DigestOf(secret)}
			if !binary {
				fd.Line, fd.Column = line, col
			}
			found(fd)
		}
		if end {
			return nil
		}
		// Count the lines of what is dropped, then move the tail forward.
		for j := pos; j < limit; j++ {
			if buf[j] == '\n' {
				line++
				lineStartAbs = base + int64(j+1)
			}
		}
		prev = buf[limit-1]
		copy(buf, buf[limit:])
		buf = buf[:len(buf)-limit]
		base += int64(limit)
	}
}
