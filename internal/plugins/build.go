// Package plugins builds an application's services from its file with the
// makers registered in package plugin: the machinery between the loaded
// configuration and the reactor. The built-in plugins live in its
// subdirectories.
package plugins

import (
	"go.yaml.in/yaml/v3"

	"github.com/twistd-go/twistd/internal/config"
	"github.com/twistd-go/twistd/internal/pluginlink"
	"github.com/twistd-go/twistd/internal/reactor"
	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/policy"
	"github.com/twistd-go/twistd/service"
)

// Build makes the services of a loaded file, collecting every plugin's
// errors. A service whose maker fails is left out of the result.
func Build(f *config.File) ([]reactor.Spec, error) {
	var specs []reactor.Spec
	var errs []error
	for _, s := range f.Services {
		m, ok := plugin.Lookup(s.Type)
		if !ok {
			continue // the loader already reported the unknown type
		}
		e := pluginlink.Entry(s).(*plugin.Entry)
		svc, err := m.New(e)
		if err != nil {
			errs = append(errs, err)
		}
		if _, none := m.(plugin.Listenless); none {
			// The documented exception: procmon binds nothing (its
			// maker refuses a listen: itself).
			if err == nil {
				specs = append(specs, spec(s, e, m, svc))
			}
			continue
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
		specs = append(specs, spec(s, e, m, svc))
	}
	return specs, config.Join(errs...)
}

// spec describes the service m made from entry s (e, as m saw it) as
// svc; a restart makes the next instance with m from the same entry.
func spec(s *config.Service, e *plugin.Entry, m plugin.Maker, svc service.Service) reactor.Spec {
	return reactor.Spec{
		Name: s.Name, Type: s.Type, Pos: s.Pos.String(), Listen: s.Listen,
		Fingerprint:   s.Fingerprint(),
		Access:        policy.NewAccess(s.Allow, s.Deny),
		ExitOnFailure: s.OnFailure == config.OnFailureExit,
		Service:       svc,
		New:           func() (service.Service, error) { return m.New(e) },
	}
}

// listsEndpoints reports whether s's entry writes any endpoint under
// listen:, valid or not.
func listsEndpoints(s *config.Service) bool {
	n := s.Value("listen")
	return n != nil && (n.Kind == yaml.ScalarNode && n.Value != "" || len(n.Content) > 0)
}
