package e2e

// Load benchmark (issue 9, "Speed"): nginx alone against nginx with the gate
// (auth_request to a real `tmaps serve`) over its unix socket (the docs'
// configuration) and over TCP (a copy of the docs' API server with the TCP
// upstream), on the same Mapping API stand-in, in the same nginx, in the
// same run, with the same load tools:
//
//   - maximum throughput: wrk (closed loop, keep-alive, TLS), the three
//     servers measured in rotating order so that other load on the machine
//     hits them alike; the ratios are gated/alone.
//   - latency at half of the gated maximum: an open-loop generator at a
//     fixed rate (wrk2 is not packaged), each connection sending on its own
//     schedule; a latency runs from the scheduled send time, so a late
//     answer also delays (and counts against) the next request. The added
//     p99 is p99(gated) − p99(alone) at the same rate, the median over
//     alternated pairs of short windows.
//
//	go test -run '^$' -bench NginxGate -benchtime 1x ./e2e
//
// Each keep-alive variant of the gate's upstream is one sub-benchmark; the
// docs' configuration is "docs". BENCHMARKS.md records the figures.
//
// The machine may be shared: besides requests per second, each wrk run
// reports the CPU time per request of every process that served it (nginx,
// tmaps serve, the upstream, wrk itself), which other load barely moves.
// On a machine of its own, CPU-bound, the throughput ratio tends to the
// inverse ratio of these costs.

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tmaps/console/internal/testkit"
)

// benchHeaders are those Chromium sends with a tile's <img> on a linked
// site: what the gate's subrequest carries unless told otherwise.
var benchHeaders = []string{
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36",
	"Accept: image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
	"Accept-Encoding: gzip, deflate, br, zstd",
	"Accept-Language: fr-TN,fr;q=0.9,ar;q=0.8,en;q=0.7",
	`sec-ch-ua: "Chromium";v="156", "Not.A/Brand";v="99"`,
	"sec-ch-ua-mobile: ?0",
	`sec-ch-ua-platform: "Linux"`,
	"Sec-Fetch-Dest: image",
	"Sec-Fetch-Mode: no-cors",
	"Sec-Fetch-Site: cross-site",
	"Referer: https://mysite.tn/",
}

const (
	benchConns     = 16              // connections of wrk and of the open-loop generator
	benchWrkTime   = 3 * time.Second // one wrk run
	benchWrkRounds = 3               // rounds of wrk runs (alone, socket, tcp), each in another order
	benchRateTime  = 2 * time.Second // one fixed-rate run
	benchRatePair  = 5               // alternated fixed-rate runs
)

func BenchmarkNginxGate(b *testing.B) {
	wrk := stackTool(b, "wrk")
	dir := b.TempDir()
	bin := testkit.Binary(b)
	db := filepath.Join(dir, "console.db")
	stackRun(b, bin, nil, "--db", db, "domains", "add", "mysite.tn")
	id, secret := stackCreateKey(b, bin, db, "web app")
	stackRun(b, bin, nil, "--db", db, "keys", "link", id, "mysite.tn")
	serve := startServe(b, bin, db)
	up := newUpstream(b, false)

	gateUpstream := "    server unix:/run/tmaps/gate.sock;\n    keepalive 32;\n"
	tiny := "/v1/tiles/9/271/190.png?style=streets&api_key=" + secret // a 0.1 KB answer
	vector := "/v1/tiles/9/271/190.pbf?api_key=" + secret             // a 20 KB answer
	variants := []struct {
		name    string
		path    string
		latency bool // also the fixed-rate latency runs
		edit    func(testing.TB, string) string
	}{
		{"docs", tiny, true, nil},
		{"docs-20KB", vector, true, nil},
		{"all-headers-to-gate", tiny, false, func(t testing.TB, s string) string {
			return replaceN(t, s, "        proxy_pass_request_headers off;\n", "", 1)
		}},
		{"keepalive-requests-100k", tiny, false, func(t testing.TB, s string) string {
			return replaceN(t, s, gateUpstream, gateUpstream+"    keepalive_requests 100000;\n", 1)
		}},
		{"keepalive-8", tiny, false, func(t testing.TB, s string) string { // fewer than the calls in flight
			return replaceN(t, s, gateUpstream, "    server unix:/run/tmaps/gate.sock;\n    keepalive 8;\n", 1)
		}},
		{"no-keepalive", tiny, false, func(t testing.TB, s string) string {
			return replaceN(t, s, gateUpstream, "    server unix:/run/tmaps/gate.sock;\n", 1)
		}},
	}
	for i, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			// One nginx worker per core, as worker_processes auto; the
			// docs' API server asks the gate on its socket (with the
			// variant's edit), a copy of it over TCP (keepalive 32).
			ngx := startNginx(b, filepath.Join(dir, strconv.Itoa(i)), serve, up.Addr(),
				nginxOptions{Baseline: true, GatedTCP: true, Edit: v.edit, Workers: runtime.NumCPU()})
			servers := []struct {
				name string
				port int
			}{{"alone", ngx.BaselinePort}, {"socket", ngx.HTTPSPort}, {"tcp", ngx.GatedTCPPort}}
			url := func(port int) string { return fmt.Sprintf("https://127.0.0.1:%d%s", port, v.path) }
			pids := [2]int{ngx.cmd.Process.Pid, serve.cmd.Process.Pid}
			// Each answers the tile (benchWrk fails otherwise), and each is
			// warm, before anything is measured.
			for _, sv := range servers {
				benchWrk(b, wrk, url(sv.port), time.Second, pids)
			}
			for n := 0; n < b.N; n++ {
				rps := make([][]float64, len(servers))
				cpu := make([][]float64, len(servers))
				for p := 0; p < benchWrkRounds; p++ {
					// Each round in another order, so that each server
					// is measured first, second and last alike.
					for k := range servers {
						j := (p + k) % len(servers)
						r := benchWrk(b, wrk, url(servers[j].port), benchWrkTime, pids)
						rps[j], cpu[j] = append(rps[j], r.rps), append(cpu[j], r.cpuPerReq)
						b.Logf("%s %s: %.0f req/s; CPU µs per request [nginx, tmaps serve, upstream, wrk]: %.0f", v.name, servers[j].name, r.rps, r.parts)
					}
				}
				maxAlone, cpuAlone := median(rps[0]), median(cpu[0])
				b.ReportMetric(maxAlone, "alone-req/s")
				b.ReportMetric(cpuAlone, "alone-cpu-us/req")
				for j := 1; j < len(servers); j++ {
					name := servers[j].name
					maxGated, cpuGated := median(rps[j]), median(cpu[j])
					b.ReportMetric(maxGated, name+"-req/s")
					b.ReportMetric(maxGated/maxAlone, name+"-ratio")
					b.ReportMetric(cpuGated, name+"-cpu-us/req")
					b.ReportMetric(cpuAlone/cpuGated, name+"-cpu-ratio")
					b.Logf("%s: alone %v req/s, gated over the %s %v req/s (ratio %.2f); CPU per request alone %.0f µs, gated %.0f µs (ratio %.2f)",
						v.name, ints(rps[0]), name, ints(rps[j]), maxGated/maxAlone, cpuAlone, cpuGated, cpuAlone/cpuGated)
				}
				if !v.latency {
					continue
				}
				// Latency at half of each gated maximum, alone and gated
				// at that rate, in alternated windows; the added p99 is
				// the median of the windows' differences, which a burst of
				// other load on the machine moves less than it moves one
				// long run.
				req := []byte("GET " + v.path + " HTTP/1.1\r\nHost: api.tmaps.test\r\n" + strings.Join(benchHeaders, "\r\n") + "\r\n\r\n")
				for j := 1; j < len(servers); j++ {
					name := servers[j].name
					rate := median(rps[j]) / 2
					var la, lg []time.Duration
					var d50, d99 []float64
					for p := 0; p < benchRatePair; p++ {
						var wa, wg []time.Duration
						if p%2 == 0 {
							wa = openLoop(b, ngx.Cert, ngx.BaselinePort, req, rate, benchRateTime)
							wg = openLoop(b, ngx.Cert, servers[j].port, req, rate, benchRateTime)
						} else {
							wg = openLoop(b, ngx.Cert, servers[j].port, req, rate, benchRateTime)
							wa = openLoop(b, ngx.Cert, ngx.BaselinePort, req, rate, benchRateTime)
						}
						pa, pg := percentiles(wa), percentiles(wg)
						d50, d99 = append(d50, ms(pg[0]-pa[0])), append(d99, ms(pg[1]-pa[1]))
						la, lg = append(la, wa...), append(lg, wg...)
					}
					pa, pg := percentiles(la), percentiles(lg)
					b.ReportMetric(rate, name+"-half-load-req/s")
					b.ReportMetric(median(d99), name+"-added-p99-ms")
					b.ReportMetric(median(d50), name+"-added-p50-ms")
					b.Logf("%s over the %s: at %.0f req/s, p50/p99/p99.9 alone %v/%v/%v, gated %v/%v/%v; added p50 by window %.2f ms, p99 %.2f ms",
						v.name, name, rate, pa[0], pa[1], pa[2], pg[0], pg[1], pg[2], d50, d99)
				}
			}
			b.StopTimer()
			// The gated runs were allowed, not refused: the upstream saw them.
			for _, f := range []string{"tmaps-api.access.log", "tmaps-api-tcp.access.log"} {
				if out, _ := os.ReadFile(filepath.Join(ngx.Logs, f)); !strings.Contains(string(out), "gate=204 api=200") {
					b.Errorf("%s shows no allowed call", f)
				}
			}
		})
	}
}

// wrkResult is what wrk measured.
type wrkResult struct {
	rps       float64
	non2xx    int
	cpuPerReq float64    // µs of CPU per request: the pids, this process and wrk
	parts     [4]float64 // the same, split: nginx, tmaps serve, this process, wrk
}

var (
	wrkRPS      = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// benchWrk runs wrk with benchConns keep-alive connections on one thread,
// with benchHeaders (a tile's <img> on a linked site), for d. The CPU it
// reports is that of nginx (pids[0] and its workers), tmaps serve
// (pids[1]), this process (the upstream) and wrk, over the run.
func benchWrk(b *testing.B, wrk, url string, d time.Duration, pids [2]int) wrkResult {
	b.Helper()
	n0, s0, self0 := treeCPU(b, pids[0]), procCPU(b, pids[1]), selfCPU(b)
	args := []string{"-t1", "-c" + strconv.Itoa(benchConns), "-d" + strconv.Itoa(int(d.Seconds())) + "s"}
	for _, h := range benchHeaders {
		args = append(args, "-H", h)
	}
	cmd := exec.Command(wrk, append(args, url)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	parts := [4]time.Duration{treeCPU(b, pids[0]) - n0, procCPU(b, pids[1]) - s0, selfCPU(b) - self0,
		cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	m := wrkRPS.FindSubmatch(out)
	n := wrkRequests.FindSubmatch(out)
	if m == nil || n == nil {
		b.Fatalf("wrk printed no Requests/sec:\n%s", out)
	}
	var r wrkResult
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	reqs, _ := strconv.Atoi(string(n[1]))
	for i, p := range parts {
		if reqs > 0 {
			r.parts[i] = float64(p) / float64(time.Microsecond) / float64(reqs)
			r.cpuPerReq += r.parts[i]
		}
	}
	if m := wrkNon2xx.FindSubmatch(out); m != nil {
		r.non2xx, _ = strconv.Atoi(string(m[1]))
	}
	if r.non2xx > 0 || reqs == 0 {
		b.Fatalf("wrk %s: %d requests, %d not 2xx:\n%s", url, reqs, r.non2xx, out)
	}
	return r
}

// selfCPU returns the CPU time (user and system) this process used so far.
func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// treeCPU returns the CPU time used so far by process pid and its children
// (nginx's master and workers).
func treeCPU(b *testing.B, pid int) time.Duration {
	total := procCPU(b, pid)
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range dirs {
		stat, err := os.ReadFile(f)
		if err != nil {
			continue // gone since the glob
		}
		_, rest, _ := strings.Cut(string(stat), ") ")
		if fs := strings.Fields(rest); len(fs) > 1 && fs[1] == strconv.Itoa(pid) {
			child, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			total += procCPU(b, child)
		}
	}
	return total
}

// procCPU returns the CPU time (user and system) process pid used so far,
// from /proc, at the kernel's 10 ms resolution.
func procCPU(b *testing.B, pid int) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// utime and stime are the 14th and 15th fields, the 12th and 13th
	// after the command's closing parenthesis, in clock ticks (100 a second).
	_, rest, _ := strings.Cut(string(stat), ") ")
	f := strings.Fields(rest)
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// openLoop sends req over benchConns TLS keep-alive connections to
// 127.0.0.1:port at rate requests per second in all, for d, and returns the
// latencies, each from the request's scheduled send time to the end of its
// answer. Each connection sends on its own schedule (rate/benchConns, the
// connections staggered); a request whose turn comes while the previous
// answer is still awaited is sent late, and its lateness counts. Any answer
// but 200 fails the benchmark.
func openLoop(b *testing.B, certFile string, port int, req []byte, rate float64, d time.Duration) []time.Duration {
	b.Helper()
	pem, err := os.ReadFile(certFile)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conf := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	interval := time.Duration(float64(time.Second) * benchConns / rate)
	conns := make([]*tls.Conn, benchConns)
	for i := range conns {
		c, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), conf)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	var (
		mu    sync.Mutex
		all   []time.Duration
		first error
		wg    sync.WaitGroup
	)
	start := time.Now().Add(20 * time.Millisecond)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			br := bufio.NewReaderSize(c, 16<<10)
			lat := make([]time.Duration, 0, int(d/interval)+1)
			next := start.Add(interval * time.Duration(i) / benchConns)
			for end := start.Add(d); next.Before(end); next = next.Add(interval) {
				if w := time.Until(next); w > 0 {
					time.Sleep(w)
				}
				if _, err := c.Write(req); err != nil {
					setFirst(&mu, &first, err)
					return
				}
				if err := readAnswer(br); err != nil {
					setFirst(&mu, &first, err)
					return
				}
				lat = append(lat, time.Since(next))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if first != nil {
		b.Fatalf("open-loop load on port %d: %v", port, first)
	}
	return all
}

func setFirst(mu *sync.Mutex, first *error, err error) {
	mu.Lock()
	defer mu.Unlock()
	if *first == nil {
		*first = err
	}
}

// readAnswer reads one HTTP/1.1 answer with a Content-Length and fails
// unless its status is 200.
func readAnswer(br *bufio.Reader) error {
	status, err := br.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(status, "HTTP/1.1 200 ") {
		return fmt.Errorf("answer %q, want 200", strings.TrimSpace(status))
	}
	length := -1
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		name, value, _ := strings.Cut(line, ":")
		if strings.EqualFold(name, "Content-Length") {
			length, _ = strconv.Atoi(strings.TrimSpace(value))
		}
	}
	if length < 0 {
		return errors.New("answer without Content-Length")
	}
	_, err = br.Discard(length)
	return err
}

// percentiles returns p50, p99 and p99.9 of l.
func percentiles(l []time.Duration) [3]time.Duration {
	if len(l) == 0 {
		return [3]time.Duration{}
	}
	slices.Sort(l)
	at := func(q float64) time.Duration { return l[min(len(l)-1, int(q*float64(len(l))))] }
	return [3]time.Duration{at(0.50), at(0.99), at(0.999)}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func ints(v []float64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
