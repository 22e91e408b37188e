// Package pluginlink joins the public plugin package to the machinery
// that builds services from a loaded file, without either naming the
// other's internal types in a public signature.
package pluginlink

import "github.com/twistd-go/twistd/internal/config"

// Entry wraps a loaded service entry in the *plugin.Entry its maker
// receives. Package plugin sets it in init; whoever calls a Maker (the
// builder) has imported plugin, so it is set by then.
var Entry func(s *config.Service) any
