package prototest_test

import (
	"fmt"
	"time"

	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/protocol/prototest"
)

// greeter says hello, and goodbye after ten seconds of silence.
type greeter struct {
	protocol.Base
	bye protocol.Timer
}

func (g *greeter) ConnectionMade(t protocol.Transport) {
	g.Transport = t
	t.Write([]byte("hello\n"))
	g.bye = t.CallLater(10*time.Second, func() {
		t.Write([]byte("bye\n"))
		t.LoseConnection()
	})
}

func (g *greeter) DataReceived([]byte) { g.bye.Reset(10 * time.Second) }

// A protocol's test, with no socket and no waiting: the simulated clock
// runs its timers.
func ExampleTransport() {
	tr := prototest.NewTransport()
	g := &greeter{}
	g.ConnectionMade(tr)
	tr.Advance(9 * time.Second)
	g.DataReceived([]byte("still here\n")) // pushes the goodbye back
	tr.Advance(9 * time.Second)
	fmt.Printf("%q\n", tr.Value())
	tr.Advance(time.Second)
	lost, _ := tr.Lost()
	fmt.Printf("%q lost=%v\n", tr.Value(), lost)
	// Output:
	// "hello\n"
	// "hello\nbye\n" lost=true
}
