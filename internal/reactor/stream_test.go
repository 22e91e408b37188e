package reactor

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

type echoProto struct{ protocol.Base }

func (e *echoProto) DataReceived(d []byte) { e.Transport.Write(d) }

// drivers are the ways this build runs stream protocols (its reactors);
// every transport test runs under each.
var drivers = func() (names []string) {
	for _, r := range Reactors() {
		names = append(names, r.Name)
	}
	return names
}()

func serveStream(t *testing.T, f protocol.Factory) (service.Server, string, *service.Stats, *observer.ObservedLogs) {
	t.Helper()
	driver := Epoll
	if strings.HasSuffix(t.Name(), "/"+Goroutines) {
		driver = Goroutines
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	stats := &service.Stats{}
	var s service.Server
	if driver == Epoll {
		s = epollServer(t, ln, f, zap.New(core), stats)
	} else {
		s = newStreamServer(service.Listener{Stream: ln}, f, zap.New(core), stats, func(error) {})
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s, ln.Addr().String(), stats, logs
}

// bothDrivers runs test under each driver of this build.
func bothDrivers(t *testing.T, test func(t *testing.T)) {
	for _, d := range drivers {
		t.Run(d, test)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A peer that sends but never reads must stall the echo, not grow its
// buffer: the transport stops reading once its write queue is full.
func TestSlowReaderPausesReading(t *testing.T) {
	bothDrivers(t, func(t *testing.T) {
		_, addr, stats, _ := serveStream(t, protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &echoProto{} }))
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		tc := c.(*net.TCPConn)
		tc.SetReadBuffer(4096)
		var sent atomic.Int64
		go func() {
			buf := make([]byte, 64<<10)
			for {
				tc.SetWriteDeadline(time.Now().Add(2 * time.Second))
				n, err := tc.Write(buf)
				sent.Add(int64(n))
				if err != nil {
					return
				}
			}
		}()
		// The sender stalls once kernel buffers and our bounded queue are full.
		var last int64 = -1
		waitFor(t, "the sender to stall", func() bool {
			time.Sleep(300 * time.Millisecond)
			n := sent.Load()
			stalled := n == last
			last = n
			return stalled
		})
		received := stats.BytesReceived.Load()
		// Kernel socket buffers can hold several MiB; our queue is bounded by
		// highWater plus one read. What we read but could not send must be small.
		if queued := received - stats.BytesSent.Load(); queued > highWater+maxRead {
			t.Fatalf("%d bytes queued for a peer that does not read; bound is %d", queued, highWater+maxRead)
		}
		if received > 64<<20 {
			t.Fatalf("server read %d bytes from a peer that never reads", received)
		}
	})
}

type panicky struct{ protocol.Base }

func (p *panicky) DataReceived(d []byte) {
	if string(d) == "boom" {
		panic("kaboom")
	}
	p.Transport.Write(d)
}

func TestPanicClosesOnlyThatConnection(t *testing.T) {
	bothDrivers(t, func(t *testing.T) {
		_, addr, _, logs := serveStream(t, protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &panicky{} }))
		good, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer good.Close()
		bad, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer bad.Close()
		bad.Write([]byte("boom"))
		bad.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := bad.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
			t.Fatalf("panicking connection: read err %v, want it closed", err)
		}
		good.Write([]byte("fine"))
		good.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4)
		if _, err := io.ReadFull(good, buf); err != nil || string(buf) != "fine" {
			t.Fatalf("other connection broken: %q %v", buf, err)
		}
		if logs.FilterMessageSnippet("panicked").Len() != 1 {
			t.Fatalf("want one panic logged, got %v", logs.All())
		}
	})
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne)
}

type halfCloser struct {
	protocol.Base
	got []byte
}

func (h *halfCloser) DataReceived(d []byte) { h.got = append(h.got, d...) }
func (h *halfCloser) ReadConnectionLost() {
	h.Transport.Write([]byte("got:"))
	h.Transport.Write(h.got)
	h.Transport.LoseConnection()
}

func TestHalfCloseKeepsWriting(t *testing.T) {
	bothDrivers(t, func(t *testing.T) {
		_, addr, _, _ := serveStream(t, protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &halfCloser{} }))
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("abc"))
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil || string(b) != "got:abc" {
			t.Fatalf("got %q, %v", b, err)
		}
	})
}

type producer struct {
	protocol.Base
	calls atomic.Int64
}

func (p *producer) ResumeProducing() {
	p.calls.Add(1)
	p.Transport.Write(make([]byte, 8192))
}

func TestPullProducerIsPacedByTheReader(t *testing.T) {
	bothDrivers(t, func(t *testing.T) {
		p := &producer{}
		_, addr, stats, _ := serveStream(t, protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return p }))
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// Read 1 MiB: the producer keeps up.
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, 1<<20)); err != nil {
			t.Fatal(err)
		}
		// Stop reading: production stops soon after.
		var last int64 = -1
		waitFor(t, "the producer to stop", func() bool {
			time.Sleep(200 * time.Millisecond)
			n := p.calls.Load()
			stopped := n == last
			last = n
			return stopped
		})
		if sent := stats.BytesSent.Load(); sent > 64<<20 {
			t.Fatalf("produced %d bytes for a reader that stopped", sent)
		}
	})
}

func TestShutdownDrainsThenForces(t *testing.T) {
	bothDrivers(t, func(t *testing.T) {
		s, addr, stats, _ := serveStream(t, protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &echoProto{} }))
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		waitFor(t, "the connection", func() bool { return stats.ConnectionsActive.Load() == 1 })
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown = %v, want DeadlineExceeded after forcing", err)
		}
		if n := stats.ConnectionsActive.Load(); n != 0 {
			t.Fatalf("%d connections still active", n)
		}
		if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			t.Fatal("listener still accepting after Shutdown")
		}
	})
}
