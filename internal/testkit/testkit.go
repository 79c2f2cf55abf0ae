// Package testkit holds the helpers that several packages' tests share: the
// tmaps binary built once per test process, a buffer safe for concurrent
// writes, a self-signed certificate and a private tmux server to drive a
// terminal program (tmux.go). Only _test.go files import it.
package testkit

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

var bin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// Binary returns the path of the tmaps binary: $TMAPS_BIN when it is set,
// otherwise the binary built from this tree, once per test process, into a
// temporary directory that Cleanup removes. A failed build fails t with the
// build's output.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("TMAPS_BIN"); p != "" {
		return p
	}
	bin.once.Do(func() {
		bin.dir, bin.err = os.MkdirTemp("", "tmaps-bin-")
		if bin.err != nil {
			return
		}
		goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
		if p, err := exec.LookPath("go"); err == nil {
			goBin = p
		}
		bin.path = filepath.Join(bin.dir, "tmaps")
		out, err := exec.Command(goBin, "build", "-o", bin.path, "github.com/tmaps/console").CombinedOutput()
		if err != nil {
			bin.err = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if bin.err != nil {
		t.Fatalf("build the tmaps binary: %v", bin.err)
	}
	return bin.path
}

// Cleanup removes the directory Binary built into; TestMain calls it after
// m.Run.
func Cleanup() {
	if bin.dir != "" {
		os.RemoveAll(bin.dir)
	}
}

// SyncBuffer is a buffer safe to read while another goroutine or a child
// process writes to it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Bytes returns a copy of the contents.
func (s *SyncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// SelfSignedCert writes dir/cert.pem and dir/key.pem (0600): a self-signed
// ECDSA CA and server certificate for 127.0.0.1 and the DNS names in hosts.
// The first host, if any, is also the CommonName.
func SelfSignedCert(t testing.TB, dir string, hosts ...string) (certFile, keyFile string) {
	t.Helper()
	return SelfSignedCertValid(t, dir, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), hosts...)
}

// SelfSignedCertValid is SelfSignedCert valid from notBefore to notAfter
// (an expired certificate, for tests of the client's message).
func SelfSignedCertValid(t testing.TB, dir string, notBefore, notAfter time.Time, hosts ...string) (certFile, keyFile string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cn := "tmaps test"
	if len(hosts) > 0 {
		cn = hosts[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              hosts,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// NeedSSHTools fails the test when a tool of the SSH end-to-end tests is
// missing (`make test` installs them with scripts/deps.sh); with
// TMAPS_SKIP_E2E=1 set it skips instead, saying so.
func NeedSSHTools(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("TMAPS_SKIP_E2E") == "" {
				t.Fatalf("%s is not installed: run `make test`, which installs it (or set TMAPS_SKIP_E2E=1 to skip)", tool)
			}
			t.Skipf("%s is not installed and TMAPS_SKIP_E2E=1: the SSH end-to-end test did not run", tool)
		}
	}
}

// RunCaptured runs cmd and returns its stdout, stderr and exit status; err
// is set only when cmd could not run at all.
func RunCaptured(cmd *exec.Cmd) (stdout, stderr string, code int, err error) {
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), errb.String(), ee.ExitCode(), nil
	}
	return out.String(), errb.String(), 0, err
}
