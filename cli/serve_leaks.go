package cli

import (
	"fmt"
	"os"

	"github.com/tmaps/console/server"
)

// leakConfig reads --leak-report-key and --on-leak.
func leakConfig(keyFile, onLeak string) (*server.LeakKeys, bool, error) {
	var disable bool
	switch onLeak {
	case "record":
	case "disable":
		disable = true
	default:
		return nil, false, usagef("--on-leak %q: use record or disable", onLeak)
	}
	if keyFile == "" {
		if disable {
			return nil, false, usagef("--on-leak disable acts on leak reports: add --leak-report-key FILE")
		}
		return nil, false, nil
	}
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, false, fmt.Errorf("--leak-report-key: %w", err)
	}
	keys, err := server.ParseLeakKeys(data)
	if err != nil {
		return nil, false, fmt.Errorf("--leak-report-key %s: %w", keyFile, err)
	}
	return keys, disable, nil
}
