package protocol_test

import (
	"errors"
	"net"
	"testing"

	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/protocol/prototest"
)

// wrapped marks a connection that went through ListenerOptions.Wrap.
type wrapped struct{ net.Conn }

func TestListener(t *testing.T) {
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 21}
	l := protocol.NewListener(addr, protocol.ListenerOptions{Backlog: 2,
		Wrap: func(c net.Conn) net.Conn { return wrapped{c} }})
	f := l.Factory()
	if l.Addr() != addr {
		t.Fatalf("Addr %v", l.Addr())
	}

	tr := prototest.NewTransport()
	p := f.BuildProtocol(tr.PeerAddr())
	p.ConnectionMade(tr)
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(wrapped); !ok || c.RemoteAddr().String() != "192.0.2.1:1234" {
		t.Errorf("accepted %T from %s", c, c.RemoteAddr())
	}
	p.DataReceived([]byte("USER x\r\n"))
	buf := make([]byte, 16)
	if n, _ := c.Read(buf); string(buf[:n]) != "USER x\r\n" {
		t.Errorf("read %q", buf[:n])
	}
	if live := l.Live(); len(live) != 1 {
		t.Errorf("Live: %d connections, want 1", len(live))
	}
	p.ConnectionLost(nil)
	if live := l.Live(); len(live) != 0 {
		t.Errorf("Live after the loss: %d connections", len(live))
	}

	// Past the backlog a connection is closed, not queued.
	var queued []*prototest.Transport
	for range 3 {
		tr := prototest.NewTransport()
		f.BuildProtocol(tr.PeerAddr()).ConnectionMade(tr)
		queued = append(queued, tr)
	}
	if lost, _ := queued[2].Lost(); !lost {
		t.Error("a connection past the backlog was kept")
	}

	// Close ends Accept, closes what was queued, and refuses what comes later.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = l.Accept()
	var op *net.OpError
	if !errors.Is(err, net.ErrClosed) || !errors.As(err, &op) {
		t.Fatalf("Accept after Close: %v", err)
	}
	for i, tr := range queued[:2] {
		if lost, _ := tr.Lost(); !lost {
			t.Errorf("queued connection %d not closed", i)
		}
	}
	late := prototest.NewTransport()
	f.BuildProtocol(late.PeerAddr()).ConnectionMade(late)
	if lost, _ := late.Lost(); !lost {
		t.Error("a connection after Close was not closed")
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
