package server

import (
	"net/http"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store"
)

// HygieneReport is the answer of GET /v1/hygiene: the findings of
// model.Hygiene over every key and domain at the server's time.
type HygieneReport struct {
	Findings []model.Finding `json:"findings"`
	// LinksChecked says whether links were checked for staleness (the
	// store counts usage per link: store.LinkUsage).
	LinksChecked bool `json:"links_checked"`
}

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
	seen, checked, err := store.LinksSeen(r.Context(), srv.s, keys)
	if err != nil {
		srv.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, HygieneReport{LinksChecked: checked,
		Findings: model.Hygiene(model.HygieneInput{Keys: keys, Domains: doms, Now: time.Now(), LinksSeen: seen})})
}
