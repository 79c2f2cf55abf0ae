package server

import (
	"net/http"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// HygieneReport is the answer of GET /v1/hygiene: store.HygieneOf over
// every key and domain at the server's time.
type HygieneReport = store.HygieneReport

func (srv *Server) hygiene(w http.ResponseWriter, r *http.Request) {
	keys, err := srv.s.Keys(r.Context())
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	doms, err := srv.s.Domains(r.Context())
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	now := time.Now
	if srv.opt.Now != nil {
		now = srv.opt.Now
	}
	rep, err := store.HygieneOf(r.Context(), srv.s, keys, doms, now(), 0)
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	if rep.Findings == nil {
		rep.Findings = []model.Finding{}
	}
	writeJSON(w, http.StatusOK, rep)
}
