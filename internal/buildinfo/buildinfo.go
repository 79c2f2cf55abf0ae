// Package buildinfo says which build of tmaps is running: the module
// version and the VCS commit Go stamps into the binary, or the commit the
// Makefile passes with -ldflags when the build has no VCS stamp (builds
// with -buildvcs=false, or outside a checkout).
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// commit is set by the Makefile:
// -ldflags "-X github.com/tmaps/console/internal/buildinfo.commit=…".
var commit string

// Info describes the running binary.
type Info struct {
	Version   string `json:"version"`  // module version, "(devel)" for a local build
	Commit    string `json:"commit"`   // VCS revision, "unknown" when neither source has it
	Modified  bool   `json:"modified"` // built from a tree with uncommitted changes
	GoVersion string `json:"go"`
}

// Get returns the build information of the running binary.
func Get() Info {
	in := Info{Version: "(devel)", Commit: commit, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" {
			in.Version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				in.Commit = s.Value
			case "vcs.modified":
				in.Modified = s.Value == "true"
			}
		}
	}
	if in.Commit == "" {
		in.Commit = "unknown"
	}
	return in
}

// String is the one-line form of `tmaps --version`.
func (in Info) String() string {
	c := in.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	if in.Modified {
		c += " (modified)"
	}
	return fmt.Sprintf("tmaps %s, commit %s, %s %s/%s", in.Version, c, in.GoVersion, runtime.GOOS, runtime.GOARCH)
}
