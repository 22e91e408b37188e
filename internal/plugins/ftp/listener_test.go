package ftp

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/twistd-go/twistd/protocol"
)

// fakeTransport is the least of a transport a protocol.Conn needs.
type fakeTransport struct {
	closed chan struct{}
}

func (t *fakeTransport) CallLater(d time.Duration, f func()) protocol.Timer {
	return time.AfterFunc(d, f)
}
func (t *fakeTransport) Write([]byte)                       {}
func (t *fakeTransport) WriteMany(...[]byte)                {}
func (t *fakeTransport) LoseConnection()                    { close(t.closed) }
func (t *fakeTransport) Abort()                             {}
func (t *fakeTransport) CloseWrite()                        {}
func (t *fakeTransport) PauseReading()                      {}
func (t *fakeTransport) ResumeReading()                     {}
func (t *fakeTransport) RegisterProducer(protocol.Producer) {}
func (t *fakeTransport) PeerAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 4000}
}
func (t *fakeTransport) HostAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 21}
}

func TestConnListener(t *testing.T) {
	l := newConnListener(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 21})
	f := l.Factory(func(c net.Conn) net.Conn { return c })

	tr := &fakeTransport{closed: make(chan struct{})}
	p := f.BuildProtocol(tr.PeerAddr())
	p.ConnectionMade(tr)
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if c.RemoteAddr().String() != "192.0.2.1:4000" {
		t.Errorf("RemoteAddr %s", c.RemoteAddr())
	}
	p.DataReceived([]byte("USER x\r\n"))
	buf := make([]byte, 16)
	if n, _ := c.Read(buf); string(buf[:n]) != "USER x\r\n" {
		t.Errorf("read %q", buf[:n])
	}

	l.Close()
	_, err = l.Accept()
	var op *net.OpError
	// The library ends its accept loop quietly on exactly this.
	if !errors.As(err, &op) || op.Err.Error() != "use of closed network connection" {
		t.Fatalf("Accept after Close: %v", err)
	}
	// A connection made after Close is closed, not left waiting.
	late := &fakeTransport{closed: make(chan struct{})}
	f.BuildProtocol(late.PeerAddr()).ConnectionMade(late)
	select {
	case <-late.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("a connection after Close was not closed")
	}
}
