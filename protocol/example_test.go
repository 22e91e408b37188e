package protocol_test

import (
	"bufio"
	"fmt"
	"net"
	"time"

	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/protocol/prototest"
)

// LineReceiver splits a stream into lines however it arrives in pieces,
// as Twisted's LineReceiver does.
func ExampleLineReceiver() {
	var lr protocol.LineReceiver // "\r\n", lines of at most 16 KiB
	for _, chunk := range []string{"NICK ali", "ce\r\nHELLO\r", "\nQU"} {
		_ = lr.Feed([]byte(chunk), func(line []byte) error {
			fmt.Printf("line %q\n", line)
			return nil
		})
	}
	fmt.Printf("buffered %q\n", lr.Buffered())
	// Output:
	// line "NICK alice"
	// line "HELLO"
	// buffered "QU"
}

// upper answers each line in capitals: a Protocol with Base for the
// callbacks it does not need, and a LineReceiver for the framing.
type upper struct {
	protocol.Base
	lines protocol.LineReceiver
}

func (u *upper) DataReceived(data []byte) {
	if err := u.lines.Feed(data, func(line []byte) error {
		out := make([]byte, 0, len(line)+2)
		for _, c := range line {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
		}
		u.Transport.Write(append(out, '\r', '\n'))
		return nil
	}); err != nil {
		u.Transport.LoseConnection() // a line too long
	}
}

// A Factory builds one Protocol per connection (Twisted's
// Factory.buildProtocol); the reactor calls its methods, one at a time
// per connection, so a protocol's state needs no lock.
func ExampleFactoryFunc() {
	f := protocol.FactoryFunc(func(peer net.Addr) protocol.Protocol { return &upper{} })
	p := f.BuildProtocol(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000})
	t := &printTransport{}
	p.ConnectionMade(t)
	p.DataReceived([]byte("hello, twisted\r\n"))
	p.ConnectionLost(nil)
	// Output: write "HELLO, TWISTED\r\n"
}

// A DatagramProtocol gets each datagram with where to answer it.
func ExampleDatagramFunc() {
	echo := protocol.DatagramFunc(func(data []byte, from net.Addr, w protocol.DatagramWriter) {
		_, _ = w.WriteTo(data, from)
	})
	echo.DatagramReceived([]byte("ping"), &net.UDPAddr{Port: 9}, printWriter{})
	// Output: to :9 "ping"
}

type printWriter struct{}

func (printWriter) WriteTo(p []byte, addr net.Addr) (int, error) {
	fmt.Printf("to %s %q\n", addr, p)
	return len(p), nil
}

// printTransport is a Transport that prints what is written to it.
type printTransport struct{}

func (*printTransport) Write(p []byte) { fmt.Printf("write %q\n", p) }
func (t *printTransport) WriteMany(bufs ...[]byte) {
	for _, b := range bufs {
		t.Write(b)
	}
}
func (*printTransport) LoseConnection()                    {}
func (*printTransport) Abort()                             {}
func (*printTransport) CloseWrite()                        {}
func (*printTransport) PauseReading()                      {}
func (*printTransport) ResumeReading()                     {}
func (*printTransport) RegisterProducer(protocol.Producer) {}
func (*printTransport) PeerAddr() net.Addr                 { return nil }
func (*printTransport) CallLater(d time.Duration, f func()) protocol.Timer {
	return time.AfterFunc(d, f)
}
func (*printTransport) HostAddr() net.Addr { return nil }

// A library that serves a net.Listener (an SMTP or FTP server, net/http)
// runs on the reactor's connections: serve the Listener's Factory on the
// service's endpoint (allow/deny, policies, PROXY and TLS apply first)
// and give the library the Listener. Here a transport stands in for the
// reactor and a line echo for the library.
func ExampleListener() {
	ln := protocol.NewListener(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2525}, protocol.ListenerOptions{})
	defer ln.Close()
	served := make(chan string)
	go func() { // the library's accept loop
		c, err := ln.Accept()
		if err != nil {
			return
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		served <- "got " + line
	}()

	// What service.Runner.ServeStream does for each connection:
	t := prototest.NewTransport()
	p := ln.Factory().BuildProtocol(t.PeerAddr())
	p.ConnectionMade(t)
	p.DataReceived([]byte("HELO example.com\n"))
	fmt.Print(<-served)
	// Output:
	// got HELO example.com
}
