package reactor

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/internal/protocol"
	"github.com/twistd-go/twistd/internal/reactor/endpoint"
	"github.com/twistd-go/twistd/internal/service"
)

func echoUnits(b *testing.B, gen int) []Unit {
	units := make([]Unit, 10)
	for i := range units {
		ep, err := endpoint.Parse("tcp:0:interface=127.0.0.1")
		if err != nil {
			b.Fatal(err)
		}
		units[i] = Unit{Name: fmt.Sprintf("svc%d", i), Type: "echo", Listen: []endpoint.Endpoint{ep},
			Fingerprint: fmt.Sprint(gen), Service: &service.Protocols{
				Stream: protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &echoProto{} })}}
	}
	return units
}

// BenchmarkReloadTenServices replaces ten changed services, sockets handed
// over (the goal: a reload with 10 services within 50 ms).
func BenchmarkReloadTenServices(b *testing.B) {
	r := New(Options{Logger: zap.NewNop(), ShutdownTimeout: time.Second})
	prepared, err := r.prepare(echoUnits(b, 0))
	if err != nil {
		b.Fatal(err)
	}
	if err := r.start(context.Background(), prepared); err != nil {
		b.Fatal(err)
	}
	r.current = prepared
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := r.Apply(context.Background(), echoUnits(b, i+1)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	r.draining.Wait()
	for _, rn := range r.current {
		r.stopOne(context.Background(), rn)
	}
	r.pool.Close()
	r.stopLoops()
}
