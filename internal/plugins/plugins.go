// Package plugins is the registry of service makers: each plugin registers
// itself in init, and the application file's type: and the one-liner
// commands (twistd echo, twistd web, ...) look them up here.
package plugins

import (
	"fmt"
	"sort"
	"sync"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/twistd-go/twistd/internal/config"
	"github.com/twistd-go/twistd/internal/service"
)

// Maker makes one kind of service (Twisted's IServiceMaker).
type Maker interface {
	// Name is the service type: in files and the one-liner's command name.
	Name() string
	// Description is the one-line summary `twistd plugins` prints.
	Description() string
	// New decodes the entry's own keys strictly (s.Decode) and builds the
	// service. Its errors are *config.Error values, joined.
	New(s *config.Service) (service.Service, error)
	// Flags registers the one-liner's flags on fs and returns a function
	// that, once fs is parsed, gives the application-file entry those flags
	// describe (keys as in a file, type: included), so a one-liner runs
	// exactly as a file with one service in it.
	Flags(fs *pflag.FlagSet) func() (map[string]any, error)
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
		panic(fmt.Sprintf("plugins: %q registered twice", m.Name()))
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

// Build makes the services of a loaded file, collecting every plugin's
// errors. A service whose maker fails is left out of the result.
func Build(f *config.File) ([]service.Spec, error) {
	var specs []service.Spec
	var errs []error
	for _, s := range f.Services {
		m, ok := Lookup(s.Type)
		if !ok {
			continue // the loader already reported the unknown type
		}
		svc, err := m.New(s)
		if err != nil {
			errs = append(errs, err)
		}
		// Every service listens somewhere; the check is here, once, after
		// the plugin's own errors so one look at the file shows them all.
		// Endpoints written but invalid were reported by the loader.
		if len(s.Listen) == 0 && !listsEndpoints(s) {
			errs = append(errs, s.Errorf(nil, "listen: at least one endpoint is required"))
			continue
		}
		if err != nil || len(s.Listen) == 0 {
			continue
		}
		specs = append(specs, Spec(s, m, svc))
	}
	return specs, config.Join(errs...)
}

// Spec describes the service m made from entry s as svc; a restart makes
// the next instance with m from the same entry.
func Spec(s *config.Service, m Maker, svc service.Service) service.Spec {
	return service.Spec{
		Name: s.Name, Type: s.Type, Pos: s.Pos.String(), Listen: s.Listen,
		Fingerprint:   s.Fingerprint(),
		Access:        Access(s),
		ExitOnFailure: s.OnFailure == config.OnFailureExit,
		Service:       svc,
		New:           func() (service.Service, error) { return m.New(s) },
	}
}

// listsEndpoints reports whether s's entry writes any endpoint under
// listen:, valid or not.
func listsEndpoints(s *config.Service) bool {
	n := s.Value("listen")
	return n != nil && (n.Kind == yaml.ScalarNode && n.Value != "" || len(n.Content) > 0)
}
