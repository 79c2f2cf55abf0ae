package server

import (
	"errors"
	"net/http"

	"github.com/tmaps/console/store"
)

// matchedHosts answers GET /v1/keys/{id}/matched-hosts: the use of each of
// the key's links (store.LinkUsage).
func (srv *Server) matchedHosts(w http.ResponseWriter, r *http.Request) {
	lu, ok := srv.s.(store.LinkUsage)
	if !ok {
		srv.fail(w, r, errors.New("this store does not count usage per link"))
		return
	}
	hs, err := lu.MatchedHosts(r.Context(), r.PathValue("id"))
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	if hs == nil {
		hs = []store.MatchedHost{}
	}
	writeJSON(w, http.StatusOK, hs)
}
