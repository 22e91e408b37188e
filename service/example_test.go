package service_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/twistd-go/twistd/service"
)

// step is a Service that says when it starts and stops.
type step struct {
	name string
	fail bool
}

func (s *step) Start(ctx context.Context, env *service.Env) error {
	if s.fail {
		return errors.New("no database")
	}
	fmt.Println("start", s.name)
	return nil
}

func (s *step) Stop(ctx context.Context) error {
	fmt.Println("stop", s.name)
	return nil
}

// Multi starts services in order and stops them in reverse, as Twisted's
// MultiService; a failed start stops what it had started.
func ExampleMulti() {
	ctx := context.Background()
	var m service.Multi
	err := m.Start(ctx, []service.Child{
		{Name: "db", Service: &step{name: "db"}, Env: &service.Env{}},
		{Name: "web", Service: &step{name: "web"}, Env: &service.Env{}},
	})
	fmt.Println("started:", err)
	_ = m.Stop(ctx)

	err = m.Start(ctx, []service.Child{
		{Name: "cache", Service: &step{name: "cache"}, Env: &service.Env{}},
		{Name: "queue", Service: &step{name: "queue", fail: true}, Env: &service.Env{}},
	})
	fmt.Println("started:", err)
	// Output:
	// start db
	// start web
	// started: <nil>
	// stop web
	// stop db
	// start cache
	// stop cache
	// started: service "queue": no database
}

// Protocols is the Service of most plugins: a stream factory on each
// stream listener, a datagram protocol on each datagram one, under the
// entry's policies.
func ExampleProtocols() {
	var _ service.Service = &service.Protocols{
		// Stream:   protocol.FactoryFunc(...),
		// Datagram: protocol.DatagramFunc(...),
		// Policies: &pc, // from plugin.Policies.Config()
	}
}
