// Package service is the machinery behind the public service package:
// Spec, the one descriptor of a service that the plugin registry makes
// from an application file and the reactor binds, starts, supervises,
// reloads and reports.
package service

import (
	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/policy"
	pub "github.com/twistd-go/twistd/service"
)

// Spec describes one service of an application: everything the reactor
// needs to bind, start, supervise, reload and report it. The plugin
// registry makes one from each entry of the application file; the admin
// endpoint's is made by the process.
type Spec struct {
	// Name is the service's name in the file, Type its plugin's name.
	Name, Type string
	// Pos is where the service is defined (file:line:col), for messages.
	Pos string
	// Listen are its endpoints, in the order of its listen:.
	Listen []endpoint.Endpoint
	// Fingerprint is its configuration in canonical form: a reload keeps
	// a running service whose name, type and fingerprint are unchanged.
	Fingerprint string
	// Access is the service's allow:/deny:, checked on every listener
	// (nil admits everyone).
	Access *policy.Access
	// Internal services (the admin endpoint) are left out of /status.
	Internal bool
	// ExitOnFailure (on_failure: exit) makes a failure after start stop
	// the process, which exits 1; otherwise the service is restarted with
	// backoff (on_failure: restart).
	ExitOnFailure bool
	// Service is the instance made when the configuration was loaded: the
	// first one the reactor starts.
	Service pub.Service
	// New makes a fresh instance from the same configuration, for a
	// restart after a failure (Start runs at most once per instance).
	// Without it a failure stops the process.
	New func() (pub.Service, error)
}
