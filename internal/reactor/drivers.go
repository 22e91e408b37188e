package reactor

import (
	"fmt"
	"runtime"
	"strings"
)

// The reactors (twistd's -r/--reactor): how stream connections are driven.
const (
	// Epoll drives plain TCP and unix connections on event loops, one per
	// CPU, with no goroutine and no buffer per idle connection (Linux).
	Epoll = "epoll"
	// Goroutines drives every connection with a reader and a writer
	// goroutine, on Go's own poller: the portable reactor.
	Goroutines = "goroutines"
)

// ReactorInfo describes one reactor for --help-reactors.
type ReactorInfo struct {
	Name, Description string
}

// Reactors lists the reactors this build offers, the default first.
func Reactors() []ReactorInfo {
	goroutines := ReactorInfo{Goroutines, "a goroutine pair per connection on Go's poller; portable (the only one off Linux), " +
		"simplest to debug, more memory per idle connection"}
	if runtime.GOOS != "linux" {
		return []ReactorInfo{goroutines}
	}
	return []ReactorInfo{
		{Epoll, "epoll event loops, one per CPU; no goroutine or buffer per idle connection, the fastest " +
			"(TLS connections still get goroutines)"},
		goroutines,
	}
}

// DefaultReactor is the reactor used when none is named.
func DefaultReactor() string { return Reactors()[0].Name }

// CheckReactor reports whether name is a reactor of this build.
func CheckReactor(name string) error {
	var names []string
	for _, r := range Reactors() {
		if r.Name == name {
			return nil
		}
		names = append(names, r.Name)
	}
	return fmt.Errorf("unknown reactor %q (this build has %s)", name, strings.Join(names, ", "))
}
