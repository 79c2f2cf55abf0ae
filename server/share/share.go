// Package share lets the process that holds a local store file (bbolt
// allows one) serve it to the other tmaps processes of the same user: the
// management API (package server) on a private unix socket, mode 0600 in a
// directory of mode 0700, that answers only peers of the same uid, with a
// token kept beside it (mode 0600). A command that finds the file locked
// opens the store over the socket with the remote store instead: its
// changes go through the holder, are audited under its own OS user, and
// the holder's console shows them at once.
package share

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/tmaps/console/model"
	"github.com/tmaps/console/server"
	"github.com/tmaps/console/store"
	"github.com/tmaps/console/store/remote"
)

// ErrNone says no process shares the store (no socket, or nobody answers).
var ErrNone = errors.New("no process shares this store")

// Paths returns the socket and token paths of the store file at dbPath (an
// absolute path): in runtimeDir/tmaps (the user's $XDG_RUNTIME_DIR) when
// given, else in the temporary directory's tmaps-UID, named after a digest
// of dbPath (socket paths must be short).
func Paths(dbPath, runtimeDir string) (dir, sock, token string) {
	dir = filepath.Join(os.TempDir(), "tmaps-"+strconv.Itoa(os.Getuid()))
	if runtimeDir != "" && filepath.IsAbs(runtimeDir) {
		dir = filepath.Join(runtimeDir, "tmaps")
	}
	sum := sha256.Sum256([]byte(dbPath))
	name := hex.EncodeToString(sum[:10])
	return dir, filepath.Join(dir, name+".sock"), filepath.Join(dir, name+".token")
}

// privateDir makes dir (mode 0700) or checks it: a directory, not a link,
// owned by this user, that no one else may enter.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() || fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if uid, ok := ownerOf(fi); !ok || uid != os.Getuid() {
		return fmt.Errorf("%s belongs to another user", dir)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s is open to other users (mode %v): make it 0700", dir, fi.Mode().Perm())
	}
	return nil
}

// Options tune Serve.
type Options struct {
	// RuntimeDir is the user's $XDG_RUNTIME_DIR ("" when unset).
	RuntimeDir string
	// PeerUID is the only uid whose processes may connect; 0 means this
	// process's uid (tests give another to see a stranger refused).
	PeerUID int
}

// Share is a store served on a private socket. Close stops it.
type Share struct {
	srv   *server.Server
	hs    *http.Server
	ln    net.Listener
	sock  string
	token string
	once  sync.Once
	done  chan struct{}
}

// Serve serves st (the holder's store of the file at dbPath) to the same
// user's processes until Close. tokens is the store's operator tokens (for
// `tmaps tokens` over the socket).
func Serve(st store.Store, tokens store.TokenStore, dbPath string, opt Options) (*Share, error) {
	if tokens == nil {
		return nil, errors.New("share the store: no token store")
	}
	if !peerCredSupported {
		return nil, errors.New("sharing a store needs peer credentials of unix sockets (Linux)")
	}
	dir, sock, tokPath := Paths(dbPath, opt.RuntimeDir)
	if err := privateDir(dir); err != nil {
		return nil, fmt.Errorf("share the store: %w", err)
	}
	// A socket left by a holder that died: we hold the file now.
	_ = os.Remove(sock)
	secret, err := newSecret()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(tokPath+".new", []byte(secret+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("share the store: %w", err)
	}
	if err := os.Rename(tokPath+".new", tokPath); err != nil {
		return nil, fmt.Errorf("share the store: %w", err)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		os.Remove(tokPath)
		return nil, fmt.Errorf("share the store: %w", err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		ln.Close()
		os.Remove(tokPath)
		return nil, fmt.Errorf("share the store: %w", err)
	}
	uid := opt.PeerUID
	if uid == 0 {
		uid = os.Getuid()
	}
	srv, err := server.New(st, server.Options{
		Tokens: &shareTokens{TokenStore: tokens, token: store.Token{Name: "local", Prefix: secret[:11],
			Digest: sha256.Sum256([]byte(secret)), Created: time.Now(), Role: model.RoleAdmin}},
		// the caller's OS user is the audit actor, not the token's name
		TrustActorHeader: true,
	})
	if err != nil {
		ln.Close()
		os.Remove(tokPath)
		return nil, err
	}
	s := &Share{srv: srv, ln: &peerListener{Listener: ln, uid: uid}, sock: sock, token: tokPath, done: make(chan struct{})}
	s.hs = &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		_ = s.hs.Serve(s.ln)
	}()
	return s, nil
}

// Close stops serving and removes the socket and the token.
func (s *Share) Close() error {
	s.once.Do(func() {
		s.srv.Close() // ends the event streams
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.hs.Shutdown(ctx)
		<-s.done
		os.Remove(s.sock)
		os.Remove(s.token)
	})
	return nil
}

func newSecret() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "tm_" + hex.EncodeToString(b[:]), nil
}

// shareTokens answers for the share's token, and leaves the store's own
// tokens to the store (`tmaps tokens` over the socket).
type shareTokens struct {
	store.TokenStore
	token store.Token
}

func (t *shareTokens) TokenByDigest(ctx context.Context, d model.Digest) (store.Token, error) {
	if d == t.token.Digest {
		return t.token, nil
	}
	return t.TokenStore.TokenByDigest(ctx, d)
}

// peerListener accepts only connections from processes of one uid.
type peerListener struct {
	net.Listener
	uid int
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if uid, err := peerUID(c); err == nil && uid == l.uid {
			return c, nil
		}
		c.Close() // a stranger: not even an answer
	}
}

// Open opens the store of the file at dbPath through the process that
// shares it, or returns ErrNone. The socket's directory must be private and
// the process answering on it must run as this user. runtimeDir is the
// user's $XDG_RUNTIME_DIR ("" when unset).
func Open(dbPath, runtimeDir string) (*remote.Store, error) {
	dir, sock, tokPath := Paths(dbPath, runtimeDir)
	if _, err := os.Lstat(sock); err != nil {
		return nil, ErrNone
	}
	if err := privateDir(dir); err != nil {
		return nil, fmt.Errorf("the store's share is not private, not used: %w", err)
	}
	fi, err := os.Lstat(tokPath)
	if err != nil {
		return nil, ErrNone
	}
	if fi.Mode().Perm()&0o077 != 0 || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("the store's share token %s is open to other users, not used", tokPath)
	}
	b, err := os.ReadFile(tokPath)
	if err != nil {
		return nil, ErrNone
	}
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", sock)
		if err != nil {
			return nil, err
		}
		if uid, err := peerUID(c); err != nil || uid != os.Getuid() {
			c.Close()
			return nil, fmt.Errorf("the process on %s is not this user's", sock)
		}
		return c, nil
	}
	// Is anyone there? A socket left by a holder that died has no one.
	c, err := dial(context.Background(), "", "")
	if err != nil {
		return nil, ErrNone
	}
	c.Close()
	tr := &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 8}
	return remote.New("http://local-share", string(trimNL(b)), remote.Options{HTTPClient: &http.Client{Transport: tr}})
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
