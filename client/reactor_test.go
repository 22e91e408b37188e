package client_test

import (
	"context"
	"time"

	"github.com/twistd-go/twistd/reactor"
	"github.com/twistd-go/twistd/service"
)

// envCatcher is a service that hands out the Env the reactor starts it with.
type envCatcher chan *service.Env

func (c envCatcher) Start(_ context.Context, env *service.Env) error { c <- env; return nil }
func (envCatcher) Stop(context.Context) error                        { return nil }

// runReactor runs a reactor of the named driver with one service and
// returns that service's Env — what a plugin's Start receives — and a
// function that stops the reactor.
func runReactor(driver string) (*service.Env, func()) {
	envs := make(envCatcher, 1)
	r, err := reactor.Start(context.Background(), reactor.Options{Reactor: driver, ShutdownTimeout: time.Second, CPUs: 1},
		reactor.Service{Name: "client", Service: envs})
	if err != nil {
		panic(err)
	}
	return <-envs, func() { r.Stop() }
}
