package gate

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/tmaps/console/model"
)

// Loopback throughput of /v1/authorize against an empty net/http handler,
// measured in the same run with the same load generator: a minimal
// HTTP/1.1 keep-alive client (one request in flight per connection, like
// wrk) that parses only the status line and Content-Length, so that the
// server's work dominates. 127.0.0.1 only, and a unix socket
// (authorize-unix: the daemon's --gate-socket, its peer trusted as the proxy).
//
//	go test -run '^$' -bench Loopback -benchtime 200000x ./gate
//
// Compare the req/s of empty, authorize, authorize-unix and
// authorize-nousage.

const loopbackConns = 16

func BenchmarkLoopback(b *testing.B) {
	m := &memStore{}
	k, secret := memKey("khot", model.Active, "mysite.tn")
	m.add(k)
	req := []byte("GET /v1/authorize HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
		"X-Original-URI: /v1/tiles/9/271/190.png?style=streets&api_key=" + secret + "\r\n" +
		"X-Forwarded-Proto: https\r\nOrigin: https://mysite.tn\r\n\r\n")

	empty := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	for _, c := range []struct {
		name string
		unix bool
		h    func(b *testing.B) http.Handler
	}{
		{"empty", false, func(*testing.B) http.Handler { return empty }},
		{"authorize", false, func(b *testing.B) http.Handler { return newMemGate(b, m, Options{}).AuthorizeHandler() }},
		{"authorize-unix", true, func(b *testing.B) http.Handler {
			return newMemGate(b, m, Options{}).AuthorizeHandler()
		}},
		{"authorize-nousage", false, func(b *testing.B) http.Handler {
			return newMemGate(b, m, Options{DisableUsage: true}).AuthorizeHandler()
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			srv := httptest.NewUnstartedServer(c.h(b))
			network := "tcp"
			if c.unix {
				ln, err := net.Listen("unix", filepath.Join(b.TempDir(), "gate.sock"))
				if err != nil {
					b.Fatal(err)
				}
				srv.Listener.Close()
				srv.Listener, network = ln, "unix"
				srv.Config.BaseContext = func(net.Listener) context.Context { return TrustedProxyContext(context.Background()) }
			}
			srv.Start()
			defer srv.Close()
			loopbackLoad(b, network, srv.Listener.Addr().String(), req, 204)
		})
	}
}

// loopbackLoad sends b.N requests over loopbackConns keep-alive connections
// and reports requests per second.
func loopbackLoad(b *testing.B, network, addr string, req []byte, want int) {
	conns := make([]net.Conn, loopbackConns)
	for i := range conns {
		c, err := net.Dial(network, addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	var next sync.Mutex
	left := b.N
	take := func() bool {
		next.Lock()
		defer next.Unlock()
		if left == 0 {
			return false
		}
		left--
		return true
	}
	errs := make(chan error, len(conns))
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := bufio.NewReaderSize(c, 4096)
			for take() {
				if _, err := c.Write(req); err != nil {
					errs <- err
					return
				}
				if err := readResponse(r, want); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

var contentLength = []byte("content-length:")

// readResponse reads one response, checks its status, skips its body.
func readResponse(r *bufio.Reader, want int) error {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return err
	}
	if len(line) < 12 || string(line[9:12]) != strconv.Itoa(want) {
		return fmt.Errorf("status line %q, want %d", line, want)
	}
	n := 0
	for {
		line, err = r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > len(contentLength) && bytes.EqualFold(line[:len(contentLength)], contentLength) {
			n, _ = strconv.Atoi(string(bytes.TrimSpace(line[len(contentLength):])))
		}
	}
	_, err = r.Discard(n)
	return err
}

// BenchmarkLoopbackWrk is the same comparison with wrk as the load tool
// (apt-get install wrk), one bounded 3-second run per server; b.N is not
// used, so run it once:
//
//	go test -run '^$' -bench LoopbackWrk -benchtime 1x ./gate
func BenchmarkLoopbackWrk(b *testing.B) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("wrk is not installed (apt-get install wrk); BenchmarkLoopback measures the same without it")
	}
	m := &memStore{}
	k, secret := memKey("khot", model.Active, "mysite.tn")
	m.add(k)
	handlers := []struct {
		name string
		h    http.Handler
	}{
		{"empty", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })},
		{"authorize", newMemGate(b, m, Options{}).AuthorizeHandler()},
		{"authorize-nousage", newMemGate(b, m, Options{DisableUsage: true}).AuthorizeHandler()},
	}
	for _, c := range handlers {
		b.Run(c.name, func(b *testing.B) {
			srv := httptest.NewServer(c.h)
			defer srv.Close()
			out, err := exec.Command(wrk, "-t1", "-c16", "-d3s",
				"-H", "X-Original-URI: /v1/tiles/9/271/190.png?style=streets&api_key="+secret,
				"-H", "X-Forwarded-Proto: https", "-H", "Origin: https://mysite.tn",
				srv.URL+"/v1/authorize").CombinedOutput()
			if err != nil {
				b.Fatalf("wrk: %v\n%s", err, out)
			}
			if bytes.Contains(out, []byte("Non-2xx")) {
				b.Fatalf("wrk saw refusals:\n%s", out)
			}
			m := regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`).FindSubmatch(out)
			if m == nil {
				b.Fatalf("no Requests/sec in wrk's output:\n%s", out)
			}
			rps, _ := strconv.ParseFloat(string(m[1]), 64)
			b.ReportMetric(rps, "req/s")
		})
	}
}
