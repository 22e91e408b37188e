package dns

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap"

	"github.com/twistd-go/twistd/internal/metrics"
	"github.com/twistd-go/twistd/internal/service"
)

// borrowed is a datagram socket handle as the reactor lends it: Close
// gives the borrow back and wakes blocked reads with a past deadline, but
// leaves the socket open for the borrower that took it over.
type borrowed struct {
	*net.UDPConn
	closed atomic.Bool
}

func (b *borrowed) Closed() bool { return b.closed.Load() }

func (b *borrowed) Close() error {
	b.closed.Store(true)
	return b.UDPConn.SetReadDeadline(time.Now())
}

// TestUDPStopsWithItsHandle: the batch readers answer, and return when
// their handle is closed although the socket stays open (a reload's
// hand-over), so Stop does not wait for its deadline.
func TestUDPStopsWithItsHandle(t *testing.T) {
	zone := filepath.Join(t.TempDir(), "z.zone")
	if err := os.WriteFile(zone, []byte("$ORIGIN example.com.\n$TTL 60\n@ SOA ns h 1 3600 600 86400 60\nwww A 192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := newServer(settings{zones: []string{zone}, ttl: 60, answerCache: 100})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, _, ok := newBatchConn(&borrowed{UDPConn: pc}); !ok {
		t.Fatal("no batch reads on a UDP socket")
	}
	env := &service.Env{Name: "names", Logger: zap.NewNop(), Stats: &service.Stats{}, Metrics: metrics.New("test"),
		Listeners: []service.Listener{{Packet: &borrowed{UDPConn: pc}}}}
	if err := s.Start(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	for range 20 {
		m := new(dns.Msg)
		m.SetQuestion("www.example.com.", dns.TypeA)
		r, _, err := c.Exchange(m, pc.LocalAddr().String())
		if err != nil || len(r.Answer) != 1 {
			t.Fatalf("query: %v %v", r, err)
		}
	}
	if got := env.Stats.Requests.Load(); got != 20 {
		t.Errorf("%d requests counted, want 20", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop(ctx) }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Stop: %v (the readers did not see their handle close)", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stop hangs: the readers did not see their handle close")
	}
}
