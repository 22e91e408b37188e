package service_test

import (
	"bufio"
	"context"
	"fmt"
	"net"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/reactor"
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

// asking is a service that dials out from its Start, with the Runner of
// the Env the reactor hands it: one askFactory per endpoint.
type asking struct {
	eps       []endpoint.Client
	factories []askFactory
}

func (a *asking) Start(ctx context.Context, env *service.Env) error {
	for i, ep := range a.eps {
		// Not ctx: it bounds the start only, and Dial's attempt runs on.
		env.Runner.Dial(context.Background(), ep, a.factories[i])
	}
	return nil
}

func (a *asking) Stop(context.Context) error { return nil }

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

	up, _ := endpoint.ParseClient(fmt.Sprintf("tcp:host=127.0.0.1:port=%d:timeout=5", ln.Addr().(*net.TCPAddr).Port))
	// Nobody listens on port 1 of 127.0.0.1: its factory hears of the failure.
	down, _ := endpoint.ParseClient("tcp:host=127.0.0.1:port=1")
	a := &asking{eps: []endpoint.Client{up, down},
		factories: []askFactory{{done: make(chan string, 1)}, {done: make(chan string, 1)}}}

	r, err := reactor.Start(context.Background(), reactor.Options{}, reactor.Service{Name: "asking", Service: a})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Stop()
	fmt.Println(<-a.factories[0].done)
	fmt.Println(<-a.factories[1].done)
	// Output:
	// answer: time to connect
	// lost: <nil>
	// failed: connect tcp:host=127.0.0.1:port=1: dial tcp 127.0.0.1:1: connect: connection refused
}
