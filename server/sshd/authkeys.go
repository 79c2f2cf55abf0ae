package sshd

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"

	gossh "golang.org/x/crypto/ssh"

	"github.com/tmaps/console/model"
)

// authorizedKeys is an OpenSSH authorized_keys file, re-read whenever its
// identity, size or modification time changes.
type authorizedKeys struct {
	path string
	log  *slog.Logger

	mu    sync.Mutex
	stamp fileStamp
	keys  []authorizedKey
	err   error // why no key is accepted at all (missing file, bad mode)
}

// authorizedKey is one accepted line.
type authorizedKey struct {
	wire    []byte // the key in SSH wire format
	comment string
	role    model.Role
}

// RoleOption is the one key option the file may carry: the role of the key,
// as in `environment="TMAPS_ROLE=auditor" ssh-ed25519 AAAA… alice`. A line
// without it is an admin (what every key was before roles).
const RoleOption = "TMAPS_ROLE"

// lineRole reads the role of a line from its options. A line with another
// option, or with a role that is not one, is refused with the reason.
func lineRole(options []string) (model.Role, error) {
	role := model.RoleAdmin
	seen := false
	for _, o := range options {
		v, ok := strings.CutPrefix(o, `environment="`+RoleOption+`=`)
		if !ok || !strings.HasSuffix(v, `"`) {
			return "", fmt.Errorf("key options are not supported, except environment=\"%s=ROLE\"", RoleOption)
		}
		if seen {
			return "", fmt.Errorf("%s is given twice", RoleOption)
		}
		seen = true
		r, err := model.ParseRole(strings.TrimSuffix(v, `"`))
		if err != nil {
			return "", err
		}
		role = r
	}
	return role, nil
}

// fileStamp identifies one version of a file.
type fileStamp struct {
	ino   uint64
	size  int64
	mtime int64 // nanoseconds
	mode  os.FileMode
}

func stampOf(fi os.FileInfo) fileStamp {
	st := fileStamp{size: fi.Size(), mtime: fi.ModTime().UnixNano(), mode: fi.Mode()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = uint64(sys.Ino)
	}
	return st
}

// load reads the file if it changed since the last read. It returns the
// number of accepted keys and the error that makes the file unusable.
func (a *authorizedKeys) load() (int, error) { return a.read(false) }

// read reads the file: always with force, else only if it changed.
func (a *authorizedKeys) read(force bool) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fi, err := os.Stat(a.path)
	if err != nil {
		a.fail(fileStamp{}, fmt.Errorf("authorized keys: %w (create it with your public key: `cat ~/.ssh/id_ed25519.pub >> %s`)", err, a.path))
		return 0, a.err
	}
	st := stampOf(fi)
	if !force && st == a.stamp && (a.keys != nil || a.err != nil) {
		return len(a.keys), a.err
	}
	switch {
	case !fi.Mode().IsRegular():
		a.fail(st, fmt.Errorf("authorized keys %s is not a regular file", a.path))
		return 0, a.err
	case fi.Mode().Perm()&0o022 != 0:
		a.fail(st, fmt.Errorf("authorized keys %s is writable by group or others (mode %04o): run `chmod 600 %s`", a.path, fi.Mode().Perm(), a.path))
		return 0, a.err
	}
	data, err := os.ReadFile(a.path)
	if err != nil {
		a.fail(st, fmt.Errorf("authorized keys: %w", err))
		return 0, a.err
	}
	keys := []authorizedKey{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		pub, comment, options, _, err := gossh.ParseAuthorizedKey(line)
		if err != nil {
			a.log.Warn("ssh authorized keys: line ignored: not a public key", "file", a.path, "line", n)
			continue
		}
		role, err := lineRole(options)
		if err != nil {
			// Options such as from= or command= restrict a key; ignoring
			// them would grant more than the file says, so the line is
			// skipped instead (and so is a line with a bad role).
			a.log.Warn("ssh authorized keys: line ignored: "+model.Escape(err.Error()), "file", a.path, "line", n, "fingerprint", gossh.FingerprintSHA256(pub))
			continue
		}
		keys = append(keys, authorizedKey{wire: pub.Marshal(), comment: model.Escape(comment), role: role})
	}
	if err := sc.Err(); err != nil {
		a.fail(st, fmt.Errorf("authorized keys %s: %w", a.path, err))
		return 0, a.err
	}
	a.stamp, a.keys, a.err = st, keys, nil
	a.log.Info("ssh authorized keys loaded", "file", a.path, "keys", len(keys))
	if len(keys) == 0 {
		a.log.Warn("ssh authorized keys: no key in the file, nobody can log in", "file", a.path)
	}
	return len(keys), nil
}

// fail records err as the state of version st, logging it once per change.
func (a *authorizedKeys) fail(st fileStamp, err error) {
	if a.err == nil || a.err.Error() != err.Error() || a.stamp != st {
		a.log.Error("ssh authorized keys unusable: every login is refused", "error", err)
	}
	a.stamp, a.keys, a.err = st, nil, err
}

// lookup returns the line of key in the file, re-reading it if it changed.
func (a *authorizedKeys) lookup(key gossh.PublicKey) (authorizedKey, bool) {
	if _, err := a.load(); err != nil {
		return authorizedKey{}, false
	}
	return a.find(key.Marshal())
}

// find returns the line of the key with this wire form as of the last
// read (without re-reading).
func (a *authorizedKeys) find(wire []byte) (authorizedKey, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range a.keys {
		if bytes.Equal(k.wire, wire) {
			return k, true
		}
	}
	return authorizedKey{}, false
}
