package sshd

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// benchServer serves a Command that prints "ok" and returns a client
// config whose key is authorized.
func benchServer(b *testing.B) (addr string, cfg *gossh.ClientConfig) {
	b.Helper()
	dir := b.TempDir()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		b.Fatal(err)
	}
	ak := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(ak, gossh.MarshalAuthorizedKey(signer.PublicKey()), 0o600); err != nil {
		b.Fatal(err)
	}
	srv, err := New(Config{
		AuthorizedKeysFile: ak,
		HostKeyFile:        filepath.Join(dir, "host_key"),
		Command: func(ctx context.Context, s Session, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
			io.WriteString(stdout, "ok\n")
			return 0
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(l)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return l.Addr().String(), &gossh.ClientConfig{
		User:            "bench",
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
	}
}

func runOnce(b *testing.B, c *gossh.Client) {
	s, err := c.NewSession()
	if err != nil {
		b.Fatal(err)
	}
	out, err := s.Output("keys list")
	if err != nil || string(out) != "ok\n" {
		b.Fatalf("output %q, %v", out, err)
	}
}

// BenchmarkSSHConnectAndCommand is a whole `ssh host CMD`: TCP, key
// exchange, public key authentication (with the authorized_keys check),
// one exec session and its exit status.
func BenchmarkSSHConnectAndCommand(b *testing.B) {
	addr, cfg := benchServer(b)
	b.ReportAllocs()
	for b.Loop() {
		c, err := gossh.Dial("tcp", addr, cfg)
		if err != nil {
			b.Fatal(err)
		}
		runOnce(b, c)
		c.Close()
	}
}

// BenchmarkSSHCommandOnOpenConnection is one more session on a connection
// already open (as with OpenSSH's ControlMaster).
func BenchmarkSSHCommandOnOpenConnection(b *testing.B) {
	addr, cfg := benchServer(b)
	c, err := gossh.Dial("tcp", addr, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	for b.Loop() {
		runOnce(b, c)
	}
}
