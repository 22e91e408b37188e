package dns

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
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
	"golang.org/x/sys/unix"

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
	if _, _, ok := newBatchSocket(&borrowed{UDPConn: pc}); !ok {
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

func TestSockaddrPort(t *testing.T) {
	v4 := make([]byte, unix.SizeofSockaddrInet4)
	binary.NativeEndian.PutUint16(v4, unix.AF_INET)
	binary.BigEndian.PutUint16(v4[2:], 5353)
	copy(v4[4:], []byte{192, 0, 2, 7})
	v6 := make([]byte, unix.SizeofSockaddrInet6)
	binary.NativeEndian.PutUint16(v6, unix.AF_INET6)
	binary.BigEndian.PutUint16(v6[2:], 53)
	copy(v6[8:], netip.MustParseAddr("2001:db8::1").AsSlice())
	mapped := append([]byte(nil), v6...)
	copy(mapped[8:], netip.MustParseAddr("::ffff:198.51.100.9").AsSlice())
	linkLocal := append([]byte(nil), v6...)
	copy(linkLocal[8:], netip.MustParseAddr("fe80::1").AsSlice())
	binary.NativeEndian.PutUint32(linkLocal[24:], 3)
	unix6 := make([]byte, 16)
	binary.NativeEndian.PutUint16(unix6, unix.AF_UNIX)
	for _, c := range []struct {
		name string
		sa   []byte
		want string
	}{
		{"IPv4", v4, "192.0.2.7:5353"},
		{"IPv6", v6, "[2001:db8::1]:53"},
		{"IPv4-mapped IPv6 comes out as IPv4", mapped, "198.51.100.9:53"},
		{"link-local IPv6 keeps its interface", linkLocal, "[fe80::1%3]:53"},
		{"IPv4 cut short", v4[:8], "invalid AddrPort"},
		{"IPv6 cut short", v6[:20], "invalid AddrPort"},
		{"another family", unix6, "invalid AddrPort"},
		{"nothing", nil, "invalid AddrPort"},
	} {
		if got := sockaddrPort(c.sa).String(); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// TestUDPBatchFamilies: the batch readers answer over IPv6, and over a
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
			env := &service.Env{Name: "names", Logger: zap.New(core), Stats: &service.Stats{}, Metrics: metrics.New("test"),
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

// FuzzSockaddrPort: whatever the kernel's address bytes, decoding them
// never panics, and what decodes is an address of the family the bytes
// name.
func FuzzSockaddrPort(f *testing.F) {
	for _, seed := range [][]byte{nil, {2, 0, 0, 53, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, make([]byte, 28), {10, 0}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, sa []byte) {
		ap := sockaddrPort(sa)
		if !ap.IsValid() {
			return
		}
		family := binary.NativeEndian.Uint16(sa)
		if family != unix.AF_INET && family != unix.AF_INET6 {
			t.Fatalf("family %d decoded as %s", family, ap)
		}
		if ap.Addr().Is4In6() {
			t.Fatalf("%s: an IPv4-mapped address must come out as IPv4", ap)
		}
	})
}
