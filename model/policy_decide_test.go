package model

import (
	"net/netip"
	"testing"
	"time"
)

// policyKey is an Active key linked to mysite.tn with the policy p.
func policyKey(p Policy, domains ...string) *Key {
	k := keyWith(Active, domains...)
	k.Policy = p
	return k
}

var (
	t0     = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	office = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/32")}
)

// TestDecidePolicySteps is the decision table of steps 4a, 4b and 10, and
// of their order against the other steps.
func TestDecidePolicySteps(t *testing.T) {
	one := []string{goodSecret}
	in := func(k *Key, ip string, origin string) GateInput {
		g := GateInput{HTTPS: true, Key: k, APIKeys: one, Now: t0, Origin: origin}
		if ip != "" {
			g.ClientIP = netip.MustParseAddr(ip)
		}
		return g
	}
	expired := Policy{Expires: t0}
	later := Policy{Expires: t0.Add(time.Second)}
	ipOnly := Policy{AllowIPs: office}
	everything := Policy{Expires: t0.Add(-time.Hour), AllowIPs: office, Rate: 1, Burst: 1, Quota: 1}
	tests := []struct {
		name   string
		in     GateInput
		status int
		reason Reason
		msg    string
	}{
		// 4a.
		{"expired at the instant", in(policyKey(expired), "", ""), 401, ReasonExpired, ErrMsgExpired},
		{"expires in a second", in(policyKey(later), "", ""), 200, ReasonUnrestricted, ""},
		{"expired, origin listed", in(policyKey(expired, "mysite.tn"), "", "https://mysite.tn"), 401, ReasonExpired, ErrMsgExpired},
		{"no expiry", in(policyKey(Policy{}), "", ""), 200, ReasonUnrestricted, ""},
		// Step 4 beats 4a and everything after: disabled or revoked win.
		{"disabled beats expired", GateInput{HTTPS: true, Key: func() *Key { k := policyKey(everything); k.Status = Disabled; return k }(), APIKeys: one, Now: t0}, 401, ReasonDisabled, ErrMsgDisabled},
		{"revoked beats expired", GateInput{HTTPS: true, Key: func() *Key { k := policyKey(everything); k.Status = Revoked; return k }(), APIKeys: one, Now: t0}, 401, ReasonRevoked, ErrMsgRevoked},
		{"disabled beats ip", GateInput{HTTPS: true, Key: func() *Key { k := policyKey(ipOnly); k.Status = Disabled; return k }(), APIKeys: one, Now: t0, ClientIP: netip.MustParseAddr("198.51.100.1")}, 401, ReasonDisabled, ErrMsgDisabled},
		// Steps 1–3 still come first.
		{"plain http beats expired", GateInput{Key: policyKey(expired), APIKeys: one, Now: t0}, 403, ReasonHTTPSRequired, ErrMsgHTTPSRequired},
		{"malformed beats everything", GateInput{HTTPS: true, Key: policyKey(everything), APIKeys: []string{"ak_x"}, Now: t0}, 401, ReasonMalformedKey, ErrMsgInvalidKey},
		// 4a before 4b.
		{"expired beats ip", in(policyKey(Policy{Expires: t0, AllowIPs: office}), "198.51.100.1", ""), 401, ReasonExpired, ErrMsgExpired},
		// 4b.
		{"ip in range", in(policyKey(ipOnly), "203.0.113.77", ""), 200, ReasonUnrestricted, ""},
		{"ipv6 in range", in(policyKey(ipOnly), "2001:db8:1::5", ""), 200, ReasonUnrestricted, ""},
		{"ipv4-mapped in range", in(policyKey(ipOnly), "::ffff:203.0.113.9", ""), 200, ReasonUnrestricted, ""},
		{"ip outside", in(policyKey(ipOnly), "198.51.100.1", ""), 403, ReasonIPNotAllowed, ErrMsgIP},
		{"ipv6 outside", in(policyKey(ipOnly), "2001:db9::1", ""), 403, ReasonIPNotAllowed, ErrMsgIP},
		{"unknown client address", in(policyKey(ipOnly), "", ""), 403, ReasonIPNotAllowed, ErrMsgIP},
		{"ip applies without headers", in(policyKey(ipOnly, "mysite.tn"), "198.51.100.1", ""), 403, ReasonIPNotAllowed, ErrMsgIP},
		{"ip applies with a listed origin", in(policyKey(ipOnly, "mysite.tn"), "198.51.100.1", "https://mysite.tn"), 403, ReasonIPNotAllowed, ErrMsgIP},
		{"ip beats domain", in(policyKey(ipOnly, "mysite.tn"), "198.51.100.1", "https://evil.com"), 403, ReasonIPNotAllowed, ErrMsgIP},
		{"ip ok, then domain refuses", in(policyKey(ipOnly, "mysite.tn"), "203.0.113.1", "https://evil.com"), 403, ReasonDomainNotAuthorized, ErrMsgDomain},
		{"ip ok, origin listed", in(policyKey(ipOnly, "mysite.tn"), "203.0.113.1", "https://mysite.tn"), 200, ReasonOriginMatched, ""},
		// 10: quota (the rate limit needs a bucket: TestDecideRateLimit).
		{"quota left", GateInput{HTTPS: true, Key: policyKey(Policy{Quota: 10}), APIKeys: one, Now: t0, QuotaUsed: 9}, 200, ReasonUnrestricted, ""},
		{"quota used up", GateInput{HTTPS: true, Key: policyKey(Policy{Quota: 10}), APIKeys: one, Now: t0, QuotaUsed: 10}, 429, ReasonQuotaExceeded, ErrMsgQuota},
		{"429 only after an allow: domain refusal first", GateInput{HTTPS: true, Key: policyKey(Policy{Quota: 10}, "mysite.tn"), APIKeys: one, Now: t0, QuotaUsed: 10, Origin: "https://evil.com"}, 403, ReasonDomainNotAuthorized, ErrMsgDomain},
		{"429 only after an allow: ip refusal first", GateInput{HTTPS: true, Key: policyKey(Policy{Quota: 10, AllowIPs: office}), APIKeys: one, Now: t0, QuotaUsed: 10, ClientIP: netip.MustParseAddr("10.0.0.1")}, 403, ReasonIPNotAllowed, ErrMsgIP},
		{"quota after an origin match", GateInput{HTTPS: true, Key: policyKey(Policy{Quota: 10}, "mysite.tn"), APIKeys: one, Now: t0, QuotaUsed: 11, Origin: "https://mysite.tn"}, 429, ReasonQuotaExceeded, ErrMsgQuota},
		{"no quota ignores QuotaUsed", GateInput{HTTPS: true, Key: policyKey(Policy{}), APIKeys: one, Now: t0, QuotaUsed: 1 << 60}, 200, ReasonUnrestricted, ""},
		{"rate limit without a bucket is not applied", GateInput{HTTPS: true, Key: policyKey(Policy{Rate: 1, Burst: 1}), APIKeys: one, Now: t0}, 200, ReasonUnrestricted, ""},
	}
	for _, tt := range tests {
		d := Decide(tt.in)
		if d.Status != tt.status || d.Reason != tt.reason || d.Error != tt.msg {
			t.Errorf("%s: Decide = %+v (%s); want status %d, reason %s, error %q", tt.name, d, d.Reason, tt.status, tt.reason, tt.msg)
		}
		if (d.Status == 429) != (d.RetryAfter > 0) {
			t.Errorf("%s: RetryAfter = %d with status %d", tt.name, d.RetryAfter, d.Status)
		}
	}
}

func TestDecideQuotaRetryAfter(t *testing.T) {
	now := time.Date(2026, 2, 28, 23, 59, 30, 0, time.UTC)
	d := Decide(GateInput{HTTPS: true, Key: policyKey(Policy{Quota: 1}), APIKeys: []string{goodSecret}, Now: now, QuotaUsed: 1})
	if d.Status != 429 || d.RetryAfter != 30 {
		t.Fatalf("quota 429 at %v: %+v; want Retry-After 30 (the next UTC month)", now, d)
	}
}

// TestDecideRateLimit: a burst of 3 at 2 requests/s. Only allowed requests
// spend tokens: refusals of earlier steps leave the bucket alone.
func TestDecideRateLimit(t *testing.T) {
	k := policyKey(Policy{Rate: 2, Burst: 3}, "mysite.tn")
	var b TokenBucket
	at := func(off time.Duration, origin string) Decision {
		return Decide(GateInput{HTTPS: true, Key: k, APIKeys: []string{goodSecret}, Now: t0.Add(off), Bucket: &b, Origin: origin})
	}
	// Refused requests first: they must not spend the burst.
	for range 10 {
		if d := at(0, "https://evil.com"); d.Status != 403 {
			t.Fatalf("evil origin: %+v", d)
		}
	}
	for i := range 3 {
		if d := at(0, "https://mysite.tn"); !d.Allowed() || d.Reason != ReasonOriginMatched || d.Host != "mysite.tn" {
			t.Fatalf("request %d of the burst: %+v", i+1, d)
		}
	}
	d := at(0, "https://mysite.tn")
	if d.Status != 429 || d.Reason != ReasonRateLimited || d.Error != ErrMsgRateLimited || d.RetryAfter != 1 || d.Host != "" {
		t.Fatalf("4th request at once: %+v; want 429 rate limit exceeded, Retry-After 1", d)
	}
	if string(d.Body()) != `{"error":"rate limit exceeded"}` {
		t.Fatalf("body %s", d.Body())
	}
	// A refusal of an earlier step still wins over an empty bucket.
	if d := at(0, "https://evil.com"); d.Status != 403 {
		t.Fatalf("evil origin with an empty bucket: %+v", d)
	}
	// Half a second later one token is back (2/s), and only one.
	if d := at(500*time.Millisecond, ""); !d.Allowed() {
		t.Fatalf("after 500 ms: %+v", d)
	}
	if d := at(500*time.Millisecond, ""); d.Status != 429 {
		t.Fatalf("second request after 500 ms: %+v", d)
	}
	// After 10 s the bucket is full again, but holds only the burst.
	n := 0
	for at(10*time.Second, "").Allowed() {
		n++
	}
	if n != 3 {
		t.Fatalf("after 10 s idle, %d requests passed at once; want the burst, 3", n)
	}
}

func TestTokenBucketRetry(t *testing.T) {
	var b TokenBucket
	now := t0.UnixNano()
	// 0.1 request/s, burst 1: one request, then 10 s to wait.
	if ok, _ := b.Take(now, 0.1, 1); !ok {
		t.Fatal("first request refused")
	}
	ok, wait := b.Take(now, 0.1, 1)
	if ok || wait != 10*time.Second || RetrySeconds(wait) != 10 {
		t.Fatalf("second request: %v, wait %v", ok, wait)
	}
	if ok, wait := b.Take(now+int64(9500*time.Millisecond), 0.1, 1); ok || RetrySeconds(wait) != 1 {
		t.Fatalf("9.5 s later: %v, wait %v; want refused, Retry-After 1", ok, wait)
	}
	if ok, _ := b.Take(now+int64(10*time.Second), 0.1, 1); !ok {
		t.Fatal("10 s later: refused")
	}
	if RetrySeconds(0) != 1 || RetrySeconds(time.Nanosecond) != 1 || RetrySeconds(1001*time.Millisecond) != 2 {
		t.Fatal("RetrySeconds rounds up to whole seconds, at least 1")
	}
	if ok, _ := b.Take(now, 0, 0); !ok {
		t.Fatal("no rate allows")
	}
	// A faster rate does not wait for the slower one's debt: the bucket
	// counts as just emptied under the new limit.
	var c TokenBucket
	for range 3 {
		c.Take(now, 1, 3) // tat is now 3 s ahead
	}
	if ok, wait := c.Take(now, 1000, 1); ok || wait != time.Millisecond {
		t.Fatalf("after a change to 1000/s: %v, wait %v; want refused, 1 ms", ok, wait)
	}
	if ok, _ := c.Take(now+int64(time.Millisecond), 1000, 1); !ok {
		t.Fatal("1 ms later under 1000/s: refused")
	}
	c.Reset()
	if ok, _ := c.Take(now, 1, 1); !ok {
		t.Fatal("a reset bucket is full")
	}
}

// TestTokenBucketConcurrent: goroutines racing on one bucket never let more
// through than the burst plus what the rate refills.
func TestTokenBucketConcurrent(t *testing.T) {
	var b TokenBucket
	now := t0.UnixNano()
	var allowed [8]int
	done := make(chan int)
	for g := range allowed {
		go func() {
			for range 1000 {
				if ok, _ := b.Take(now, 100, 50); ok {
					allowed[g]++
				}
			}
			done <- g
		}()
	}
	for range allowed {
		<-done
	}
	sum := 0
	for _, n := range allowed {
		sum += n
	}
	if sum != 50 {
		t.Fatalf("%d requests passed at one instant; want exactly the burst, 50", sum)
	}
}

func TestDecidePolicyAllocs(t *testing.T) {
	var b TokenBucket
	k := policyKey(Policy{Expires: t0.Add(time.Hour), AllowIPs: office, Rate: 1e6, Burst: 1e6, Quota: 1 << 40}, "mysite.tn")
	in := GateInput{HTTPS: true, Key: k, APIKeys: []string{goodSecret}, Now: t0, Bucket: &b,
		ClientIP: netip.MustParseAddr("203.0.113.5"), Origin: "https://mysite.tn"}
	if n := testing.AllocsPerRun(100, func() { _ = Decide(in).Body() }); n != 0 {
		t.Errorf("Decide with a policy allocates %v times", n)
	}
	in.QuotaUsed = 1 << 40
	if n := testing.AllocsPerRun(100, func() { _ = Decide(in).Body() }); n != 0 {
		t.Errorf("Decide refusing on quota allocates %v times", n)
	}
}

func TestDecisionBodyPolicies(t *testing.T) {
	for msg, want := range map[string]string{
		ErrMsgExpired:     `{"error":"api_key expired"}`,
		ErrMsgIP:          `{"error":"ip not authorized"}`,
		ErrMsgRateLimited: `{"error":"rate limit exceeded"}`,
		ErrMsgQuota:       `{"error":"quota exceeded"}`,
	} {
		if got := string(Decision{Status: 429, Error: msg}.Body()); got != want {
			t.Errorf("Body(%q) = %s; want %s", msg, got, want)
		}
	}
	for r := Reason(1); int(r) < NumReasons; r++ {
		if r.String() == "unknown" || r.Explain() == "no decision" {
			t.Errorf("reason %d has no name or explanation", r)
		}
	}
}
