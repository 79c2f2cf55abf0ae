package server

import (
	"context"
	"net/http"
	"time"

	"github.com/tmaps/console/gate"
	"github.com/tmaps/console/internal/buildinfo"
	"github.com/tmaps/console/store"
)

// Readiness is the body of GET /readyz: whether this node should get
// traffic, with the store's and the gate's state behind the answer.
type Readiness struct {
	// Status is "ready" or, on a cluster node failing static, "stale"
	// (200); or "starting", "not ready", "closed" or "stopping" (503).
	Status string       `json:"status"`
	Store  store.Health `json:"store"`
	Gate   gate.Status  `json:"gate"`
	// Follow is the freshness of the gate's index on a store shared by
	// several nodes (etcd): its revision and staleness.
	Follow *gate.FollowStatus `json:"follow,omitempty"`
	// Leader says, on a cluster, whether this node is the elected one that
	// maintains usage and sends alerts.
	Leader *bool `json:"leader,omitempty"`
}

// Readiness statuses.
const (
	StatusReady    = "ready"
	StatusStarting = "starting"
	StatusNotReady = "not ready"
	StatusStopping = "stopping"
	// StatusStale (200): a cluster node that cannot prove its index current
	// (no quorum) and decides from it (fail static); writes answer 503.
	StatusStale = "stale"
	// StatusClosed (503): a cluster node stale for longer than
	// --max-staleness; its gate answers 503 (fail closed).
	StatusClosed = "closed"
)

// Liveness is the body of GET /healthz.
type Liveness struct {
	Status        string         `json:"status"` // always "alive"
	Build         buildinfo.Info `json:"build"`
	UptimeSeconds float64        `json:"uptime_seconds"`
}

// healthz answers 200 while the process serves HTTP: a liveness probe
// restarts the daemon only when this fails.
func (srv *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, Liveness{
		Status:        "alive",
		Build:         buildinfo.Get(),
		UptimeSeconds: time.Since(srv.started).Round(time.Second).Seconds(),
	})
}

// readyz answers 200 when the node can decide and manage (store
// reachable, gate index loaded and following the store), 503 otherwise.
func (srv *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if srv.opt.Readiness == nil {
		writeJSON(w, http.StatusServiceUnavailable, Readiness{Status: StatusNotReady})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	rd := srv.opt.Readiness(ctx)
	status := http.StatusOK
	if rd.Status != StatusReady && rd.Status != StatusStale {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, rd)
}
