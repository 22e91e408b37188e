package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// commit and date are stamped by `make build` and `make release` with
// -ldflags "-X github.com/twistd-go/twistd/internal/cli.commit=..." (and .date, .version). A
// binary built without them (go build, go install) takes what the Go
// toolchain recorded instead: the module version and the VCS revision and
// time, the same ones `go version -m` shows.
var (
	commit = ""
	date   = ""
)

// buildInfo is what `twistd version` reports.
type buildInfo struct {
	Version, Commit, Date, Go string
	Modified                  bool
}

// readBuildInfo merges the stamped values with the toolchain's.
func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Commit: commit, Date: date, Go: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if b.Version == defaultVersion && info.Main.Version != "" && info.Main.Version != "(devel)" {
		b.Version = strings.TrimPrefix(info.Main.Version, "v")
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			if b.Commit == "" {
				b.Commit = s.Value
			}
		case "vcs.time":
			if b.Date == "" {
				b.Date = s.Value
			}
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// defaultVersion is version when nothing stamped it.
const defaultVersion = "0.1.0-dev"

// String is the line of `twistd --version`:
// twistd 0.2.0 (commit abc1234, built 2026-12-03T12:00:00Z, go1.26.8).
func (b buildInfo) String() string {
	parts := make([]string, 0, 3)
	if b.Commit != "" {
		c := b.Commit
		if len(c) > 7 {
			c = c[:7]
		}
		if b.Modified && !strings.HasSuffix(c, "-dirty") {
			c += "-dirty"
		}
		parts = append(parts, "commit "+c)
	}
	if b.Date != "" {
		d := b.Date
		if t, err := time.Parse(time.RFC3339, d); err == nil {
			d = t.UTC().Format(time.RFC3339)
		}
		parts = append(parts, "built "+d)
	}
	parts = append(parts, b.Go)
	return fmt.Sprintf("twistd %s (%s)", b.Version, strings.Join(parts, ", "))
}

// printVersion is `twistd version` and `twistd --version`.
func printVersion(w io.Writer) {
	fmt.Fprintln(w, readBuildInfo().String())
}
