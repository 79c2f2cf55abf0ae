package store

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tmaps/console/model"
)

// CheckUsage refuses a host that holds a secret without repeating the
// secret, and a batch whose 429 counts would wrap like any other count.
func TestCheckUsageRefusesSecretsAndWrappingLimits(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	hour := now.Truncate(time.Hour)
	secret := model.NewSecret()
	for name, d := range map[string]UsageDelta{
		"refused host":   {KeyID: "k1", Hour: hour, Forbidden: 1, RefusedHosts: map[string]uint64{secret + ".evil.tn": 1}},
		"last host":      {KeyID: "k1", Hour: hour, Allowed: 1, LastUsed: now, LastHost: strings.ToUpper(secret)},
		"matched host":   {KeyID: "k1", Hour: hour, Allowed: 1, MatchedHosts: map[string]uint64{"x." + secret[:12]: 1}},
		"operator token": {KeyID: "k1", Hour: hour, Forbidden: 1, RefusedHosts: map[string]uint64{"tm_" + strings.Repeat("0f", 16): 1}},
	} {
		err := CheckUsage([]UsageDelta{d}, now)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
			continue
		}
		if strings.Contains(strings.ToLower(err.Error()), secret[3:12]) || strings.Contains(err.Error(), "0f0f0f0f") {
			t.Errorf("%s: the error repeats the secret: %v", name, err)
		}
	}
	if err := CheckUsage([]UsageDelta{{KeyID: "k1", Hour: hour, Forbidden: 1, RefusedHosts: map[string]uint64{"REDACTED.evil.tn": 1}}}, now); err != nil {
		t.Errorf("a redacted host is refused: %v", err)
	}
	wrap := []UsageDelta{{KeyID: "k1", Hour: hour, Limited: math.MaxUint64}, {KeyID: "k1", Hour: hour, Limited: 2}}
	if err := CheckUsage(wrap, now); !errors.Is(err, ErrInvalid) {
		t.Errorf("429 counts that wrap: %v, want ErrInvalid", err)
	}
}
