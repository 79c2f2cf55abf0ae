package e2e

import (
	"encoding/json"
	"testing"
	"time"
)

// TestCreateServerKeyAndSetExpiry: in the real binary in tmux, create a key
// choosing "Server" in the create dialog, then set its expiry from the
// key's Policies (p) with the impact confirmation; the store has both.
func TestCreateServerKeyAndSetExpiry(t *testing.T) {
	tm := newTerm(t, "NO_COLOR=1")
	tm.start()
	tm.waitFor("No API keys yet")
	tm.keys("n")
	tm.waitFor("Create API Key", "Where will the key be used?")
	tm.typeText("Tiles backend")
	tm.keys("Tab", "Right")
	tm.waitFor("(•) Server", "Server key: used by a backend")
	tm.keys("Enter")
	tm.waitFor("API key created", "This secret will not be shown again")
	tm.keys("Escape")
	tm.waitFor("Close without copying?")
	tm.keys("y")
	tm.waitFor("A server key gets no domain")

	tm.keys("Enter")
	tm.waitFor("Server key · never expires", "p edits")
	tm.keys("p")
	tm.waitFor("Policies · “Tiles backend”", "2  Expiry")
	tm.keys("2")
	tm.waitFor("Expiry · “Tiles backend”")
	tm.typeText("30d")
	tm.waitFor("✓ expires in 30 d")
	tm.keys("Enter")
	tm.waitFor("Change the expiry of “Tiles backend”?", "(401 “api_key expired”)")
	tm.keys("y")
	tm.waitFor("Saved the expiry of “Tiles backend”", "Server key · expires in 30 d")
	tm.keys("q")

	var k struct {
		Kind    string
		Expires time.Time
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The console holds the store's lock until it has exited.
		out, err := tm.try("keys", "show", "Tiles backend", "--json")
		if err == nil {
			if err := json.Unmarshal([]byte(out), &k); err != nil {
				t.Fatalf("keys show --json: %v\n%s", err, out)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("keys show after the console quit: %v\n%s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if left := time.Until(k.Expires); k.Kind != "server" || left < 29*24*time.Hour || left > 30*24*time.Hour {
		t.Fatalf("stored key: kind %q, expires %v (in %v); want a server key expiring in 30 days", k.Kind, k.Expires, left)
	}
}
