package client_test

import (
	"context"
	"os"
	"time"

	"github.com/twistd-go/twistd/internal/reactor"
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
	r := reactor.New(reactor.Options{Reactor: driver, ShutdownTimeout: time.Second, Signals: make(chan os.Signal), CPUs: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- r.Run(ctx, []reactor.Spec{{Name: "client", Type: "test", Pos: "test:1:1", Service: envs}})
	}()
	select {
	case env := <-envs:
		return env, func() { cancel(); <-done }
	case err := <-done:
		panic(err)
	}
}
