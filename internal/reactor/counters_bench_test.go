package reactor

import (
	"context"

	"go.uber.org/zap"
	"io"
	"net"
	"testing"

	"github.com/twistd-go/twistd/internal/protocol"
	"github.com/twistd-go/twistd/internal/service"
)

// BenchmarkCountersPerMessage is what the traffic counters add to one
// echoed message on the event loops: bytes received, bytes sent (two
// atomic adds on shared counters). Compare with BenchmarkEchoRoundTrip:
// counters should cost at most 3% of the ping-pong.
func BenchmarkCountersPerMessage(b *testing.B) {
	var st service.Stats
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			st.BytesReceived.Add(64)
			st.BytesSent.Add(64)
		}
	})
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
	s, err := newEstreamServer(fd, isUnix, ln, protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &echoProto{} }),
		[]*loop{l}, nopLogger(), &service.Stats{})
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
