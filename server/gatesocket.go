package server

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/store/wire"
)

// GateHandler serves only what a local proxy needs: GET /v1/authorize
// (the gate) and GET /healthz, logged like Handler's requests. Any other
// path is 404: the management API is not on the gate's socket.
func (srv *Server) GateHandler() http.Handler {
	return srv.logRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/authorize":
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				srv.authorize(w, r) // the hot path: no mux lookup
				return
			}
			srv.route(w, r) // 405 with Allow
		case "/healthz":
			srv.route(w, r)
		default:
			writeError(w, http.StatusNotFound, wire.Error{
				Error: "no such route on the gate socket: it serves /v1/authorize and /healthz; the management API is on the daemon's TCP address",
				Code:  "no_route",
			})
		}
	}))
}

// gateSocketMode is the gate socket's permission: its owner and group
// (the proxy's user is a member) may connect, nobody else.
const gateSocketMode = 0o660

// maxSocketPath is the longest unix socket path Linux binds (sun_path
// holds 108 bytes with its NUL), less the ".new" of the temporary name.
const maxSocketPath = 107 - len(".new")

// gateSocket is the unix socket listener of DaemonConfig.GateSocket.
type gateSocket struct {
	path string
	ln   *net.UnixListener
}

// listenGateSocket listens on a unix socket at path with mode 0660. A
// socket file already there is removed only when nothing accepts
// connections on it (left by a daemon that crashed); anything else there
// is an error. The socket is bound under a temporary name, given its mode
// and then renamed, so that it is never connectable with wider rights.
func listenGateSocket(path string) (*gateSocket, error) {
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("gate socket %s: the path is %d bytes long, a unix socket path can have at most %d: choose a shorter --gate-socket", model.Escape(path), len(path), maxSocketPath)
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	tmp := path + ".new"
	if err := removeStaleSocket(tmp); err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("gate socket: %w (does its directory exist, and may this user write there?)", err)
	}
	ln.SetUnlinkOnClose(false) // renamed, and kept at shutdown (DaemonConfig.GateSocket)
	fail := func(err error) (*gateSocket, error) {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("gate socket %s: %w", model.Escape(path), err)
	}
	if err := os.Chmod(tmp, gateSocketMode); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	return &gateSocket{path: path, ln: ln}, nil
}

// removeStaleSocket removes the socket file at path when no process
// accepts connections on it; no file is fine; a live socket or a file that
// is not a socket is an error naming what to do.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("gate socket: %w", err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("gate socket %s: a file that is not a socket is in the way: remove it, or choose another --gate-socket", model.Escape(path))
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("gate socket %s: another process listens on it (another tmaps serve?): stop it, or choose another --gate-socket", model.Escape(path))
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("gate socket %s: cannot tell whether a process listens on it: %w", model.Escape(path), err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("gate socket %s: remove the stale socket: %w", model.Escape(path), err)
	}
	return nil
}
