package cluster

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tmaps/console/internal/etcdtest"
)

// propagation is the spec's bound for a change made on one node to be
// enforced by every other node (p99 ≤ 1 s).
const propagation = time.Second

// Revoke, disable, unlink and domain delete on node A are enforced by A's
// gate on the very next call and by B's within a second.
func TestChangesReachEveryNode(t *testing.T) {
	e := newEnv(t, etcdtest.Shared(t).Endpoints)
	a, b := e.start(t, "A"), e.start(t, "B")
	const origin = "https://mysite.tn"
	e.must(t, a, http.StatusCreated, "POST", "/v1/domains", map[string]string{"name": "mysite.tn"})
	e.must(t, a, http.StatusCreated, "POST", "/v1/domains", map[string]string{"name": "other.tn"})

	type step struct {
		what   string
		change func(id string)
		// want is the gate's answer for a request from origin afterwards.
		want int
	}
	for _, st := range []step{
		{"revoke", func(id string) {
			e.must(t, a, http.StatusOK, "POST", "/v1/keys/"+id+"/revoke", map[string]string{"confirm": "web " + id})
		}, http.StatusUnauthorized},
		{"disable", func(id string) {
			e.must(t, a, http.StatusOK, "POST", "/v1/keys/"+id+"/disable", nil)
		}, http.StatusUnauthorized},
		{"unlink", func(id string) {
			e.must(t, a, http.StatusOK, "POST", "/v1/keys/"+id+"/unlink", map[string][]string{"domains": {"mysite.tn"}})
		}, http.StatusForbidden}, // other.tn stays linked: mysite.tn is refused
		{"domain delete", func(id string) {
			e.must(t, a, http.StatusOK, "DELETE", "/v1/domains/mysite.tn", nil)
			e.must(t, a, http.StatusCreated, "POST", "/v1/domains", map[string]string{"name": "mysite.tn"})
		}, http.StatusForbidden},
	} {
		t.Run(st.what, func(t *testing.T) {
			id, secret := e.createKey(t, a, "web")
			// The name is unique per step, so that the revoke confirms it.
			e.must(t, a, http.StatusOK, "POST", "/v1/keys/"+id+"/rename", map[string]string{"name": "web " + id})
			e.must(t, a, http.StatusOK, "POST", "/v1/keys/"+id+"/link", map[string][]string{"domains": {"mysite.tn", "other.tn"}})
			within(t, a, secret, origin, http.StatusNoContent, 5*time.Second)
			within(t, b, secret, origin, http.StatusNoContent, 5*time.Second)
			st.change(id)
			if got, body := decide(t, a, secret, origin); got != st.want {
				t.Fatalf("%s on A: A's gate answers %d %s on the next call, want %d", st.what, got, body, st.want)
			}
			took := within(t, b, secret, origin, st.want, 5*time.Second)
			if took > propagation {
				t.Fatalf("%s on A reached B's gate after %v, want within %v", st.what, took, propagation)
			}
		})
	}
}

// The same domain added on both nodes at once: one domain, one 409.
func TestDomainRaceAcrossNodes(t *testing.T) {
	e := newEnv(t, etcdtest.Shared(t).Endpoints)
	a, b := e.start(t, "A"), e.start(t, "B")
	for round := range 5 {
		name := fmt.Sprintf("race%d.tn", round)
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i, n := range []*node{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i], _ = e.api(t, n, "POST", "/v1/domains", map[string]string{"name": name})
			}()
		}
		wg.Wait()
		slices.Sort(codes)
		if codes[0] != http.StatusCreated || codes[1] != http.StatusConflict {
			t.Fatalf("round %d: the two adds answered %v, want one 201 and one 409", round, codes)
		}
	}
	var doms []struct{ Name string }
	if err := json.Unmarshal(e.must(t, b, http.StatusOK, "GET", "/v1/domains", nil), &doms); err != nil {
		t.Fatal(err)
	}
	if len(doms) != 5 {
		t.Fatalf("%d domains after 5 races, want 5: %+v", len(doms), doms)
	}
}

// Links stay symmetric under 8 parallel writers spread over both nodes.
func TestLinksSymmetricAcrossNodes(t *testing.T) {
	e := newEnv(t, etcdtest.Shared(t).Endpoints)
	nodes := []*node{e.start(t, "A"), e.start(t, "B")}
	var ids []string
	for i := range 5 {
		id, _ := e.createKey(t, nodes[i%2], fmt.Sprintf("key %d", i))
		ids = append(ids, id)
	}
	doms := []string{"a.tn", "b.tn", "c.tn", "d.tn"}
	for _, d := range doms {
		e.must(t, nodes[0], http.StatusCreated, "POST", "/v1/domains", map[string]string{"name": d})
	}
	var wg sync.WaitGroup
	for w := range 8 {
		n := nodes[w%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			for range 15 {
				id, d := ids[rng.IntN(len(ids))], doms[rng.IntN(len(doms))]
				var st int
				var body []byte
				switch rng.IntN(4) {
				case 0, 1:
					st, body = e.api(t, n, "POST", "/v1/keys/"+id+"/link", map[string][]string{"domains": {d}})
				case 2:
					st, body = e.api(t, n, "POST", "/v1/keys/"+id+"/unlink", map[string][]string{"domains": {d}})
				case 3:
					if st, body = e.api(t, n, "DELETE", "/v1/domains/"+url.PathEscape(d), nil); st == http.StatusNotFound {
						st, body = e.api(t, n, "POST", "/v1/domains", map[string]string{"name": d})
					}
				}
				if st >= 500 {
					t.Errorf("writer %d on %s: %d %s", w, n.name, st, body)
					return
				}
			}
		}()
	}
	wg.Wait()
	var keys []struct {
		ID      string
		Domains []string
	}
	var domains []struct {
		Name string
		Keys []string
	}
	json.Unmarshal(e.must(t, nodes[1], http.StatusOK, "GET", "/v1/keys", nil), &keys)
	json.Unmarshal(e.must(t, nodes[0], http.StatusOK, "GET", "/v1/domains", nil), &domains)
	fromKeys, fromDomains := map[string]bool{}, map[string]bool{}
	for _, k := range keys {
		for _, d := range k.Domains {
			fromKeys[k.ID+" "+d] = true
		}
	}
	for _, d := range domains {
		for _, id := range d.Keys {
			fromDomains[id+" "+d.Name] = true
		}
	}
	for l := range fromKeys {
		if !fromDomains[l] {
			t.Fatalf("link %s is on the key's side only", l)
		}
	}
	for l := range fromDomains {
		if !fromKeys[l] {
			t.Fatalf("link %s is on the domain's side only", l)
		}
	}
	if len(keys) != len(ids) {
		t.Fatalf("%d keys, want %d", len(keys), len(ids))
	}
}
