package client_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"time"

	"github.com/twistd-go/twistd/client"
	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/reactor"
)

// greeter prints each line the server sends.
type greeter struct {
	protocol.Base
	lines chan string
}

func (g *greeter) DataReceived(data []byte) { g.lines <- string(data) }

func ExampleService() {
	// An upstream to keep a connection to: it answers each line in upper case.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		c, _ := ln.Accept()
		line, _ := bufio.NewReader(c).ReadString('\n')
		fmt.Fprintf(c, "HELLO, %s", line[len("hello, "):])
	}()

	ep, _ := endpoint.ParseClient(fmt.Sprintf("tcp:host=127.0.0.1:port=%d:timeout=5", ln.Addr().(*net.TCPAddr).Port))
	lines := make(chan string, 1)
	upstream := &client.Service{
		Endpoint: ep,
		Factory:  protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &greeter{lines: lines} }),
	}

	// The reactor starts it as it starts any service (inside twistd, a
	// service of yours starts it from its own Start, with its Env).
	r, err := reactor.Start(context.Background(), reactor.Options{}, reactor.Service{Name: "upstream", Service: upstream})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := upstream.WhenConnected(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	p.(*greeter).Transport.Write([]byte("hello, world\n"))
	fmt.Print(<-lines)
	// Output: HELLO, world
}

func ExampleBackoff_Delay() {
	b := client.Backoff{Jitter: -1} // Twisted's defaults, without the jitter
	for n := 1; n <= 10; n++ {
		fmt.Print(b.Delay(n).Round(time.Second), " ")
	}
	fmt.Println()
	// Output: 1s 3s 7s 20s 55s 2m28s 6m43s 18m17s 49m41s 1h0m0s
}
