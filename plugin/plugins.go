// Package plugin is twistd's plugin system: a Maker (Twisted's
// IServiceMaker) registered in init becomes a service type: of the
// application file and a one-liner command (twistd NAME --flags).
package plugin

import (
	"fmt"
	"sort"
	"sync"

	"github.com/spf13/pflag"

	"github.com/twistd-go/twistd/service"
)

// Maker makes one kind of service (Twisted's IServiceMaker).
type Maker interface {
	// Name is the service type: in files and the one-liner's command name.
	Name() string
	// Description is the one-line summary `twistd plugins` prints.
	Description() string
	// New decodes the entry's own keys strictly (e.Decode) and builds the
	// service; it opens what must be opened before privileges are dropped
	// (files, not sockets: the reactor binds e.Listen). Its errors are
	// those of e.Decode and e.Errorf, joined (Join). `twistd check` runs
	// it and starts nothing; a restart after a failure runs it again on
	// the same entry.
	New(e *Entry) (service.Service, error)
	// Flags registers the one-liner's flags on fs and returns a function
	// that, once fs is parsed, gives the application-file entry those flags
	// describe (keys as in a file, type: included), so a one-liner runs
	// exactly as a file with one service in it. A one-liner that stands
	// for several services (twistd inetd --file: one per inetd.conf line)
	// gives {"services": []map[string]any{entry, ...}} instead; the
	// function is called again on each reload, so it re-reads its files.
	Flags(fs *pflag.FlagSet) func() (map[string]any, error)
}

// ArgsTaker is implemented by makers whose one-liner takes positional
// arguments after its flags (twistd procmon -- CMD ARGS...): the Flags
// function reads them with fs.Args(). ArgsUsage describes them for help.
// Other one-liners refuse arguments.
type ArgsTaker interface {
	ArgsUsage() string
}

// Listenless is implemented by makers whose services bind no socket
// (procmon supervises processes): Build does not ask their entries for a
// listen: endpoint — the maker's New refuses one itself.
type Listenless interface {
	Listenless()
}

// registry is the only global mutable state of the program: plugins add
// themselves in init, before main runs.
var (
	mu       sync.RWMutex
	registry = map[string]Maker{}
)

// Register adds a maker. It panics if the name is taken: two plugins of one
// name are a programming error.
func Register(m Maker) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[m.Name()]; dup {
		panic(fmt.Sprintf("plugin: %q registered twice", m.Name()))
	}
	registry[m.Name()] = m
}

// Lookup returns the maker of a service type.
func Lookup(name string) (Maker, bool) {
	mu.RLock()
	defer mu.RUnlock()
	m, ok := registry[name]
	return m, ok
}

// Known reports whether a service type is registered.
func Known(name string) bool {
	_, ok := Lookup(name)
	return ok
}

// All returns every maker, sorted by name.
func All() []Maker {
	mu.RLock()
	defer mu.RUnlock()
	all := make([]Maker, 0, len(registry))
	for _, m := range registry {
		all = append(all, m)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name() < all[j].Name() })
	return all
}
