package dns

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/twistd-go/twistd/metrics"
	"github.com/twistd-go/twistd/service"
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

// TestUDPStopsWithItsHandle: the readers answer, and return when
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
	env := &service.Env{Name: "names", Logger: zap.NewNop(), Stats: &service.Stats{}, Metrics: metrics.New(),
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

// TestUDPBatchFamilies: the readers answer over IPv6, and over a
// dual-stack socket to an IPv4 client, whose reply goes back to the
// IPv4-mapped address it came from; the service sees the client as IPv4
// (the query log names it so).
func TestUDPBatchFamilies(t *testing.T) {
	zone := filepath.Join(t.TempDir(), "z.zone")
	if err := os.WriteFile(zone, []byte("$ORIGIN example.com.\n$TTL 60\n@ SOA ns h 1 3600 600 86400 60\nwww A 192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name          string
		listen, query string
		client        string
	}{
		{"IPv6", "[::1]:0", "[::1]", "::1"},
		{"dual-stack, IPv4 client", "[::]:0", "127.0.0.1", "127.0.0.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := newServer(settings{zones: []string{zone}, ttl: 60, answerCache: 100, queryLog: true})
			if err != nil {
				t.Fatal(err)
			}
			laddr, err := net.ResolveUDPAddr("udp", c.listen)
			if err != nil {
				t.Fatal(err)
			}
			pc, err := net.ListenUDP("udp", laddr)
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			core, logs := observer.New(zap.InfoLevel)
			env := &service.Env{Name: "names", Logger: zap.New(core), Stats: &service.Stats{}, Metrics: metrics.New(),
				Listeners: []service.Listener{{Packet: &borrowed{UDPConn: pc}}}}
			if err := s.Start(context.Background(), env); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = s.Stop(context.Background()) }()
			addr := net.JoinHostPort(strings.Trim(c.query, "[]"), strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port))
			cl := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
			for range 3 { // the second and third come from the answer cache
				m := new(dns.Msg)
				m.SetQuestion("www.example.com.", dns.TypeA)
				r, _, err := cl.Exchange(m, addr)
				if err != nil || len(r.Answer) != 1 {
					t.Fatalf("query to %s: %v %v", addr, r, err)
				}
			}
			var clients []string
			for _, e := range logs.All() {
				if v, ok := e.ContextMap()["client"]; ok {
					clients = append(clients, fmt.Sprint(v))
				}
			}
			if len(clients) != 3 {
				t.Fatalf("%d queries logged, want 3: %q", len(clients), clients)
			}
			for _, cl := range clients {
				if host, _, _ := net.SplitHostPort(cl); host != c.client {
					t.Errorf("query logged from %s, want host %s", cl, c.client)
				}
			}
		})
	}
}
