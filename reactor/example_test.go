package reactor_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"time"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/reactor"
	"github.com/twistd-go/twistd/service"
)

// echo sends back what it receives.
type echo struct{ protocol.Base }

func (e *echo) DataReceived(data []byte) { e.Transport.Write(data) }

// A protocol served on a port of its own, outside the twistd binary:
// Start binds the endpoint and starts the service; Stop drains it.
func ExampleStart() {
	ep, _ := endpoint.Parse("tcp:0:interface=127.0.0.1")
	r, err := reactor.Start(context.Background(), reactor.Options{}, reactor.Service{
		Name:    "echo",
		Listen:  []endpoint.Endpoint{ep},
		Service: &service.Protocols{Stream: protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &echo{} })},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Stop()

	c, _ := net.Dial("tcp", r.Addrs("echo")[0].String())
	defer c.Close()
	fmt.Fprintf(c, "hello\n")
	line, _ := bufio.NewReader(c).ReadString('\n')
	fmt.Print(line)
	// Output: hello
}

// job is a service with no socket: it says when it started.
type job struct{ started chan string }

func (j job) Start(_ context.Context, env *service.Env) error {
	j.started <- "started " + env.Name
	return nil
}
func (job) Stop(context.Context) error { return nil }

// Run serves until its context is done — signal.NotifyContext for a
// program stopped by Ctrl-C — then stops the services and returns.
func ExampleRun() {
	started := make(chan string, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := reactor.Run(ctx, reactor.Options{}, reactor.Service{Name: "job", Service: job{started}})
	fmt.Println(<-started)
	fmt.Println("stopped:", err)
	// Output:
	// started job
	// stopped: <nil>
}
