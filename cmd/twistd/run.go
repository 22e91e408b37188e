package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/twistd-go/twistd/internal/config"
	"github.com/twistd-go/twistd/internal/plugins"
	"github.com/twistd-go/twistd/internal/process"
	"github.com/twistd-go/twistd/internal/reactor"
	"github.com/twistd-go/twistd/internal/service"
)

// loadOptions are how every command reads an application file: service
// types and reactors are the ones this binary has.
var loadOptions = config.Options{KnownType: plugins.Known, CheckReactor: reactor.CheckReactor}

// loadFile reads an application file and builds its services; every
// problem is reported at once.
func loadFile(path string) (*config.File, []reactor.Unit, error) {
	file, err := config.Load(path, loadOptions)
	return buildUnits(file, err)
}

// buildUnits lets each plugin decode its services, joining its errors with
// the loader's. The admin endpoint is not among them: the running process
// adds it (proc.units), since it reports on that process.
func buildUnits(file *config.File, loadErr error) (*config.File, []reactor.Unit, error) {
	if file == nil {
		return nil, nil, loadErr
	}
	built, err := plugins.Build(file)
	// Whether this build's reactor can serve each endpoint is checked for
	// every service, built or not, so its errors join the plugins'.
	errs := []error{loadErr, err}
	for _, s := range file.Services {
		for _, ep := range s.Listen {
			if err := reactor.CheckEndpoint(ep); err != nil {
				errs = append(errs, s.Errorf(nil, "listen %s: %v", ep, err))
			}
		}
	}
	if err := config.Join(errs...); err != nil {
		return nil, nil, err
	}
	var units []reactor.Unit
	for _, b := range built {
		spec := b.Spec
		units = append(units, reactor.Unit{Name: spec.Name, Type: spec.Type, Listen: spec.Listen,
			Service: b.Service, Pos: spec.Pos.String(), Fingerprint: fingerprint(spec.Node),
			ExitOnFailure: spec.OnFailure == config.OnFailureExit,
			Access:        plugins.Access(spec),
			New:           func() (service.Service, error) { return plugins.New(spec) }})
	}
	returnMemory()
	return file, units, nil
}

// fingerprint is a service entry's configuration in canonical form (keys
// sorted, comments and layout gone), to tell a changed service on reload.
func fingerprint(n *yaml.Node) string {
	var v any
	if err := n.Decode(&v); err != nil {
		return fmt.Sprintf("undecodable %p", n)
	}
	b, err := json.Marshal(normalize(v))
	if err != nil {
		return fmt.Sprintf("unencodable %p", n)
	}
	return string(b)
}

// normalize turns yaml's map[string]any and map[any]any into JSON-able values.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = normalize(x)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[fmt.Sprint(k)] = normalize(x)
		}
		return m
	case []any:
		for i, x := range v {
			v[i] = normalize(x)
		}
		return v
	}
	return v
}

// loader builds an application anew: from its file, or from a one-liner's
// flags. A reload calls it again.
type loader func() (*config.File, []reactor.Unit, error)

// runApp runs a loaded application: daemonize, pidfile, logs, then the
// reactor until a stop signal; SIGHUP reloads it with load.
func runApp(cmd *cobra.Command, v *viper.Viper, file *config.File, units []reactor.Unit, load loader) error {
	s, err := resolveSettings(cmd, v, file)
	if err != nil {
		return err
	}
	var notify *process.Notifier
	if !s.nodaemon {
		notify, err = process.Daemonize(s.logfile)
		if !process.IsDaemon() {
			// The parent: the child has reported (or died).
			if errors.Is(err, process.ErrNotReady) {
				err = fmt.Errorf("%w; see %s", err, s.logfile)
			}
			return withCode(exitFailure, err)
		}
		if err != nil {
			return withCode(exitFailure, err)
		}
	}
	stopProfile, err := startProfile(s.profile, s.profiler)
	if err != nil {
		notify.Failed(err)
		return withCode(exitFailure, err)
	}
	p := newProc(v, s, file, notify, load)
	err = p.serve(units)
	if perr := stopProfile(); perr != nil && err == nil {
		err = fmt.Errorf("--profile: %w", perr)
	}
	if err != nil {
		notify.Failed(err)
		if errors.Is(err, reactor.ErrForced) {
			return silentExit(exitFailure)
		}
		return withCode(exitFailure, err)
	}
	return nil
}
