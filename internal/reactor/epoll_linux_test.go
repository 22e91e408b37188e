package reactor

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// maxRead is the most either driver reads at once.
const maxRead = max(readBuffer, loopReadBuffer)

// epollServer serves f on ln from two event loops of its own, so that
// connections are handed from the accepting loop to the other.
func epollServer(t *testing.T, ln net.Listener, f protocol.Factory, log *zap.Logger, stats *service.Stats) service.Server {
	t.Helper()
	return epollListener(t, service.Listener{Stream: ln}, f, log, stats)
}

// epollListener is epollServer for a listener with its endpoint and rules.
func epollListener(t *testing.T, ln service.Listener, f protocol.Factory, log *zap.Logger, stats *service.Stats) service.Server {
	t.Helper()
	l, err := newLoop(log)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := newLoop(log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.stop(); l2.stop() })
	fd, isUnix, ok := rawListener(ln.Stream)
	if !ok {
		t.Fatal("no raw listener")
	}
	es, err := newEstreamServer(fd, isUnix, ln, f, []*loop{l, l2}, log, stats, nil)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// BenchmarkEchoRoundTrip is one 64-byte ping-pong through the event loops.
func BenchmarkEchoRoundTrip(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	l, err := newLoop(nopLogger())
	if err != nil {
		b.Fatal(err)
	}
	defer l.stop()
	fd, isUnix, _ := rawListener(ln)
	s, err := newEstreamServer(fd, isUnix, service.Listener{Stream: ln}, protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &echoProto{} }),
		[]*loop{l}, nopLogger(), &service.Stats{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown(cancelled())
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg := make([]byte, 64)
	buf := make([]byte, 64)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
}

func nopLogger() *zap.Logger { return zap.NewNop() }

func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// An idle loop sleeps in epoll_wait with no bound: work handed to it
// (the watchdog's Alive, a connection to serve, stop) must still wake it at
// once, however long it has slept.
func TestIdleLoopWakes(t *testing.T) {
	l, err := newLoop(nopLogger())
	if err != nil {
		t.Fatal(err)
	}
	within := func(what string, f func()) {
		t.Helper()
		done := make(chan struct{})
		go func() { f(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Fatalf("%s: the sleeping loop did not wake", what)
		}
	}
	for range 3 {
		time.Sleep(30 * time.Millisecond) // long enough for sysmon to take the P
		within("do", func() { l.do(func() {}) })
		time.Sleep(30 * time.Millisecond)
		within("wake", func() { // as schedule and add do: no forced write
			ran := make(chan struct{})
			l.mu.Lock()
			l.ops = append(l.ops, func() { close(ran) })
			l.mu.Unlock()
			l.wake()
			<-ran
		})
	}
	time.Sleep(30 * time.Millisecond)
	within("stop", l.stop)
}
