package server

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/model"
)

// A revoked operator token's open event stream ends at once, whichever
// path revoked it: the API (with another token), or the store itself (the
// CLI and SSH commands of the daemon go through it). Issue 9, item 3.
func TestRevokedTokenEndsItsEventStreams(t *testing.T) {
	for _, path := range []string{"api", "store"} {
		t.Run(path, func(t *testing.T) {
			f := newFixture(t, Options{Heartbeat: time.Hour})
			_, doomed, err := f.st.CreateToken(context.Background(), "doomed", model.RoleAdmin)
			if err != nil {
				t.Fatal(err)
			}
			// A stream of the doomed token, and one of the fixture's token
			// that must go on.
			open := func(token string) (*bufio.Scanner, func()) {
				ctx, cancel := context.WithCancel(context.Background())
				req, _ := http.NewRequestWithContext(ctx, "GET", f.ts.URL+"/v1/events", nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := f.ts.Client().Do(req)
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("open the stream: %v %v", resp, err)
				}
				sc := bufio.NewScanner(resp.Body)
				if !sc.Scan() || sc.Text() != ": connected" {
					t.Fatalf("stream start: %q", sc.Text())
				}
				return sc, func() { cancel(); resp.Body.Close() }
			}
			sc, closeDoomed := open(doomed)
			defer closeDoomed()
			other, closeOther := open(f.token)
			defer closeOther()

			if path == "api" {
				status, body := f.do("DELETE", "/v1/tokens/doomed", "")
				expect(t, "revoke", status, body, http.StatusNoContent, "")
			} else if err := f.st.RevokeToken(context.Background(), "doomed"); err != nil {
				t.Fatal(err)
			}
			// Changes after the revocation must not reach the doomed stream:
			// it ends (EOF) without a key event.
			status, body := f.do("POST", "/v1/keys", `{"name":"after the revoke"}`)
			expect(t, "create", status, body, http.StatusCreated, "")
			ended := make(chan string, 1)
			go func() {
				var got []string
				for sc.Scan() {
					if strings.HasPrefix(sc.Text(), "data: ") && strings.Contains(sc.Text(), `"kind":"key"`) {
						got = append(got, sc.Text())
					}
				}
				ended <- strings.Join(got, "\n")
			}()
			select {
			case got := <-ended:
				if got != "" {
					t.Fatalf("the revoked token's stream received changes made after the revocation:\n%s", got)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the revoked token's event stream is still open 5 s after the revocation")
			}
			// The other token's stream goes on and sees the change.
			for other.Scan() {
				if strings.Contains(other.Text(), `"kind":"key"`) {
					return
				}
			}
			t.Fatalf("the other token's stream ended: %v", other.Err())
		})
	}
}

// Every request in flight with a revoked token ends (its context is
// cancelled with errTokenRevoked), not only event streams; others go on.
func TestRevokeEndsEveryRequestOfTheToken(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	doomed, _, err := f.st.CreateToken(ctx, "doomed", model.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	kept, _, err := f.st.CreateToken(ctx, "kept", model.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	var l live
	a, doneA := l.add(ctx, doomed.Digest)
	defer doneA()
	b, doneB := l.add(ctx, doomed.Digest)
	defer doneB()
	c, doneC := l.add(ctx, kept.Digest)
	defer doneC()
	if err := f.st.RevokeToken(ctx, "doomed"); err != nil {
		t.Fatal(err)
	}
	l.recheck(ctx, f.st)
	for i, x := range []context.Context{a, b} {
		if context.Cause(x) != errTokenRevoked {
			t.Fatalf("request %d of the revoked token: cause %v", i, context.Cause(x))
		}
	}
	if c.Err() != nil {
		t.Fatalf("the other token's request ended: %v", context.Cause(c))
	}
}
