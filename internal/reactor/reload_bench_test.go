package reactor

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

func echoSpecs(b *testing.B, gen int) []Spec {
	specs := make([]Spec, 10)
	for i := range specs {
		ep, err := endpoint.Parse("tcp:0:interface=127.0.0.1")
		if err != nil {
			b.Fatal(err)
		}
		specs[i] = Spec{Name: fmt.Sprintf("svc%d", i), Type: "echo", Listen: []endpoint.Endpoint{ep},
			Fingerprint: fmt.Sprint(gen), Service: &service.Protocols{
				Stream: protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &echoProto{} })}}
	}
	return specs
}

// BenchmarkReloadTenServices replaces ten changed services, sockets handed
// over (the goal: a reload with 10 services within 50 ms).
func BenchmarkReloadTenServices(b *testing.B) {
	r := New(Options{Logger: zap.NewNop(), ShutdownTimeout: time.Second})
	prepared, err := r.prepare(echoSpecs(b, 0))
	if err != nil {
		b.Fatal(err)
	}
	if err := r.start(context.Background(), prepared); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := r.Apply(context.Background(), echoSpecs(b, i+1)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	r.draining.Wait()
	_ = r.tree.Stop(context.Background())
	r.pool.Close()
	r.stopLoops()
}
