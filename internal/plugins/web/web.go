// Package web is the web service (twistd web): static files with
// Caddy-grade correctness, directory listings, compression, TLS and HTTP/2,
// reverse proxying, basic auth, virtual hosts and an access log.
package web

import (
	"errors"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/service"
)

func init() { plugin.Register(maker{}) }

type maker struct{}

func (maker) Name() string { return "web" }
func (maker) Description() string {
	return "static files, listings, TLS and HTTP/2, reverse proxy, basic auth, virtual hosts"
}

// New decodes a web entry strictly and builds its service.
func (maker) New(s *plugin.Entry) (service.Service, error) {
	opts := DefaultOptions()
	var errs []error
	if err := s.Decode(&opts); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, opts.validate(s)...)
	for _, ep := range s.Listen {
		if ep.Kind == endpoint.UDP {
			errs = append(errs, s.Errorf(s.Value("listen"), "listen %s: the web service speaks TCP only", ep))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	opts.openLog = s.OpenLog
	srv, err := newServer(&opts, s.Listen)
	if err != nil {
		return nil, s.Errorf(nil, "%v", err)
	}
	return srv, nil
}
