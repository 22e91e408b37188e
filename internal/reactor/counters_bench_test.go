package reactor

import (
	"testing"

	"github.com/twistd-go/twistd/service"
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
