package reactor

import (
	"context"
	"testing"

	"go.uber.org/zap"

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

func nopLogger() *zap.Logger { return zap.NewNop() }

func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
