package service_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/internal/reactor"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// asker sends one question and prints the answer.
type asker struct {
	protocol.Base
}

func (a *asker) ConnectionMade(t protocol.Transport) {
	a.Base.ConnectionMade(t)
	t.Write([]byte("what time is it?\n"))
}

func (a *asker) DataReceived(data []byte) {
	fmt.Printf("answer: %s", data)
	a.Transport.LoseConnection()
}

// askFactory is a protocol.ClientFactory: it hears how each connection
// it was dialed for ends. done gets one line per Dial.
type askFactory struct{ done chan string }

func (askFactory) BuildProtocol(net.Addr) protocol.Protocol { return &asker{} }

func (f askFactory) ClientConnectionFailed(err error) { f.done <- "failed: " + err.Error() }

func (f askFactory) ClientConnectionLost(err error) { f.done <- fmt.Sprint("lost: ", err) }

func ExampleRunner() {
	// A server that answers one line.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		c, _ := ln.Accept()
		defer c.Close()
		bufio.NewReader(c).ReadString('\n')
		c.Write([]byte("time to connect\n"))
		c.Read(make([]byte, 1)) // until the client closes
	}()

	// env is what the reactor hands a service's Start.
	env, stop := exampleEnv()
	defer stop()

	f := askFactory{done: make(chan string, 1)}
	ep, _ := endpoint.ParseClient(fmt.Sprintf("tcp:host=127.0.0.1:port=%d:timeout=5", ln.Addr().(*net.TCPAddr).Port))
	env.Runner.Dial(context.Background(), ep, f)
	fmt.Println(<-f.done)

	// Nobody listens on port 1 of 127.0.0.1: the factory hears of the failure.
	ep, _ = endpoint.ParseClient("tcp:host=127.0.0.1:port=1")
	env.Runner.Dial(context.Background(), ep, f)
	fmt.Println(<-f.done)
	// Output:
	// answer: time to connect
	// lost: <nil>
	// failed: connect tcp:host=127.0.0.1:port=1: dial tcp 127.0.0.1:1: connect: connection refused
}

// envCatcher is a service that hands out the Env it is started with.
type envCatcher chan *service.Env

func (c envCatcher) Start(_ context.Context, env *service.Env) error { c <- env; return nil }
func (envCatcher) Stop(context.Context) error                        { return nil }

// exampleEnv runs a reactor with one service and returns its Env.
func exampleEnv() (*service.Env, func()) {
	envs := make(envCatcher, 1)
	r := reactor.New(reactor.Options{ShutdownTimeout: time.Second, Signals: make(chan os.Signal), CPUs: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- r.Run(ctx, []reactor.Spec{{Name: "example", Type: "example", Pos: "example:1:1", Service: envs}})
	}()
	select {
	case env := <-envs:
		return env, func() { cancel(); <-done }
	case err := <-done:
		panic(err)
	}
}
