package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"

	"github.com/tmaps/console/store"
)

var _ store.Backuper = (*Store)(nil)

// backupTrailer is server.BackupDigestTrailer (the server package is
// above this one).
const backupTrailer = "X-Tmaps-Backup-Sha256"

// Backup streams GET /v1/backup to w and checks the SHA-256 the server
// sends after the body: a copy cut on the way is an error.
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	req, err := s.newRequest(ctx, call{method: "GET", path: "/v1/backup"}, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/octet-stream")
	resp, err := s.hc.Do(req)
	if err != nil {
		return 0, s.unavailable(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err := s.answerError(resp, data); err != nil {
			if ne, ok := err.(*netError); ok {
				return 0, s.unavailable(ne.err)
			}
			return 0, err
		}
		return 0, fmt.Errorf("the tmaps API at %s answered %s to a backup", s.display, resp.Status)
	}
	sum := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, sum), resp.Body)
	if err != nil {
		return n, fmt.Errorf("the backup from %s was cut after %d bytes: %w", s.display, n, err)
	}
	want := resp.Trailer.Get(backupTrailer)
	if got := hex.EncodeToString(sum.Sum(nil)); want == "" || got != want {
		return n, fmt.Errorf("the backup from %s is incomplete or damaged (SHA-256 %s, the server sent %q): try again", s.display, got, want)
	}
	return n, nil
}
