package reactor_test

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/reactor"
	"github.com/twistd-go/twistd/service"
)

// failing is a service that fails once started, as one whose socket died.
type failing struct{}

func (failing) Start(_ context.Context, env *service.Env) error {
	go env.Fail(errors.New("disk on fire"))
	return nil
}
func (failing) Stop(context.Context) error { return nil }

type refusing struct{}

func (refusing) Start(context.Context, *service.Env) error { return errors.New("no database") }
func (refusing) Stop(context.Context) error                { return nil }

type nothing struct{}

func (nothing) Start(context.Context, *service.Env) error { return nil }
func (nothing) Stop(context.Context) error                { return nil }

func TestNames(t *testing.T) {
	want := []string{reactor.Goroutines}
	if runtime.GOOS == "linux" {
		want = []string{reactor.Epoll, reactor.Goroutines}
	}
	if got := reactor.Names(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("Names() = %q, want %q", got, want)
	}
}

func TestEachReactorServesAndStops(t *testing.T) {
	for _, name := range reactor.Names() {
		t.Run(name, func(t *testing.T) {
			ep, _ := endpoint.Parse("tcp:0:interface=127.0.0.1")
			r, err := reactor.Start(context.Background(), reactor.Options{Reactor: name},
				reactor.Service{Name: "one", Listen: []endpoint.Endpoint{ep}, Service: &service.Protocols{Stream: protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &protocol.Base{} })}})
			if err != nil {
				t.Fatal(err)
			}
			addrs := r.Addrs("one")
			if len(addrs) != 1 || addrs[0].(*net.TCPAddr).Port == 0 {
				t.Fatalf("Addrs = %v, want one real address", addrs)
			}
			if r.Addrs("other") != nil {
				t.Error("Addrs of an unknown service is not nil")
			}
			if err := r.Stop(); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if err := r.Stop(); err != nil {
				t.Fatalf("second Stop: %v", err)
			}
			if c, err := net.DialTimeout("tcp", addrs[0].String(), time.Second); err == nil {
				c.Close()
				t.Fatal("the socket is still open after Stop")
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy, _ := endpoint.Parse("tcp:" + strings.TrimPrefix(taken.Addr().String(), "127.0.0.1:") + ":interface=127.0.0.1")
	free, _ := endpoint.Parse("tcp:0:interface=127.0.0.1")
	for _, c := range []struct {
		name     string
		services []reactor.Service
		want     string
	}{
		{"unnamed", []reactor.Service{{Service: nothing{}}}, "service 1: no name"},
		{"twice", []reactor.Service{{Name: "a", Service: nothing{}}, {Name: "a", Service: nothing{}}}, `service "a": named twice`},
		{"nil", []reactor.Service{{Name: "a"}}, `service "a": no Service`},
		{"bind", []reactor.Service{{Name: "a", Listen: []endpoint.Endpoint{free}, Service: nothing{}},
			{Name: "b", Listen: []endpoint.Endpoint{busy}, Service: nothing{}}}, "address already in use"},
		{"start", []reactor.Service{{Name: "a", Service: nothing{}}, {Name: "b", Service: refusing{}}}, "no database"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := reactor.Start(context.Background(), reactor.Options{}, c.services...)
			if err == nil {
				r.Stop()
				t.Fatalf("Start succeeded, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Start: %v, want %q", err, c.want)
			}
		})
	}
	if _, err := reactor.Start(context.Background(), reactor.Options{Reactor: "kqueue"}); err == nil ||
		!strings.Contains(err.Error(), `unknown reactor "kqueue"`) {
		t.Fatalf("Start with an unknown reactor: %v", err)
	}
}

func TestAFailedServiceStopsTheReactor(t *testing.T) {
	r, err := reactor.Start(context.Background(), reactor.Options{}, reactor.Service{Name: "a", Service: nothing{}},
		reactor.Service{Name: "burning", Service: failing{}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.Done():
	case <-time.After(10 * time.Second):
		r.Stop()
		t.Fatal("the reactor kept running after a service failed")
	}
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "burning") || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Err = %v, want the failed service and its failure", err)
	}
	if err := reactor.Run(context.Background(), reactor.Options{}, reactor.Service{Name: "burning", Service: failing{}}); err == nil {
		t.Fatal("Run returned nil after its service failed")
	}
}
