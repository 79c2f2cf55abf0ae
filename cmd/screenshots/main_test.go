package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/internal/ansisvg"
	"github.com/tmaps/console/internal/testkit"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testkit.Cleanup()
	os.Exit(code)
}

// textOf returns the screen an SVG image shows, failing on malformed XML.
func textOf(t *testing.T, img []byte) string {
	t.Helper()
	lines, err := ansisvg.ReadText(img)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// TestScreenshotsOfTheRealConsole runs `make screenshots`' driver against
// the real binary in tmux, twice: each picture shows its screen, and the
// second run writes the same bytes (the README's pictures do not churn).
func TestScreenshotsOfTheRealConsole(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("TMAPS_SKIP_E2E") == "" {
			t.Fatal("tmux is not installed: run `make test`, which installs it (or set TMAPS_SKIP_E2E=1 to skip)")
		}
		t.Skip("tmux is not installed and TMAPS_SKIP_E2E=1: the screenshots were not taken")
	}
	bin := testkit.Binary(t)
	first, second := t.TempDir(), t.TempDir()
	if err := take(bin, first, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"keys.svg":       {"API Keys", "19 keys", "Production fron", "Active", "Disabled", "Revoked", "n new key"},
		"create-key.svg": {"API key created", NewKeyName, "will not be shown again", "20 keys"},
		"key.svg":        {"API Keys › Production frontend", "Rotation", "Authorized Domains (3)", "app.mysite.tn"},
		"usage.svg":      {"Usage · all keys", "Last 24 hours", "Last 30 days", "Keys used lately"},
	}
	secret := regexp.MustCompile(`ak_[0-9a-f]{32}`)
	for _, name := range Shots {
		img, err := os.ReadFile(filepath.Join(first, name))
		if err != nil {
			t.Fatal(err)
		}
		text := textOf(t, img)
		for _, part := range want[name] {
			if !strings.Contains(text, part) {
				t.Errorf("%s does not show %q; it says:\n%s", name, part, text)
			}
		}
		// the only whole secret is the demo's new key, on its screen
		if got := secret.FindAllString(text, -1); name == "create-key.svg" && len(got) != 1 || name != "create-key.svg" && len(got) != 0 {
			t.Errorf("%s shows secrets %q", name, got)
		}
	}
	if err := take(bin, second, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, name := range Shots {
		a, _ := os.ReadFile(filepath.Join(first, name))
		b, _ := os.ReadFile(filepath.Join(second, name))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two runs:\n%s\n%s", name, textOf(t, a), textOf(t, b))
		}
	}
}
