package server

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"time"

	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/wire"
)

// BackupDigestTrailer is the trailer of GET /v1/backup that carries the
// SHA-256 (hex) of the bytes sent, so that a client can tell a whole copy
// from a cut one.
const BackupDigestTrailer = "X-Tmaps-Backup-Sha256"

// backup streams a consistent copy of the store (for bolt, the file as of
// one read transaction) while the daemon goes on serving.
func (srv *Server) backup(w http.ResponseWriter, r *http.Request) {
	b, ok := srv.s.(store.Backuper)
	if !ok {
		writeError(w, http.StatusNotImplemented, wire.Error{Error: "this store cannot be backed up through the API", Code: "unavailable"})
		return
	}
	// A large file may take longer than the server's write timeout.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Hour))
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", `attachment; filename="tmaps-backup.db"`)
	h.Set("Cache-Control", "no-store")
	h.Set("Trailer", BackupDigestTrailer)
	sum := sha256.New()
	start := time.Now()
	n, err := b.Backup(r.Context(), io.MultiWriter(w, sum))
	if err != nil {
		srv.log.Error("backup failed", "bytes", n, "err", err)
		if n == 0 {
			for _, k := range []string{"Content-Disposition", "Trailer"} {
				h.Del(k)
			}
			srv.fail(w, r, err)
			return
		}
		// Cut the answer: no trailer, so the client knows.
		panic(http.ErrAbortHandler)
	}
	h.Set(BackupDigestTrailer, hex.EncodeToString(sum.Sum(nil)))
	srv.log.Info("backup streamed", "bytes", n, "took", time.Since(start), "token", r.Context().Value(tokenCtxKey{}))
}
