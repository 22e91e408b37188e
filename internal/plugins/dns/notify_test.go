package dns

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap"
)

// fakeSecondary reads NOTIFYs on a UDP socket, ignores the first drop of
// them and answers the rest with rcode; each NOTIFY read is sent on got.
func fakeSecondary(t *testing.T, drop int, rcode int) (addr string, got <-chan *dns.Msg) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	ch := make(chan *dns.Msg, 16)
	go func() {
		buf := make([]byte, 4096)
		for n := 0; ; n++ {
			k, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			m := new(dns.Msg)
			if err := m.Unpack(buf[:k]); err != nil {
				continue
			}
			ch <- m
			if n < drop {
				continue
			}
			r := new(dns.Msg)
			r.SetRcode(m, rcode)
			r.Authoritative = true
			out, _ := r.Pack()
			_, _ = pc.WriteTo(out, from)
		}
	}()
	return pc.LocalAddr().String(), ch
}

func testZone(t *testing.T, serial string) *Zone {
	t.Helper()
	z, err := ParseZone(strings.NewReader("$ORIGIN example.com.\n$TTL 60\n@ SOA ns h "+serial+" 3600 600 86400 60\nwww A 192.0.2.1\n"), "", "z.zone")
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// TestNotifySend: a NOTIFY is opcode NOTIFY with AA, the zone's SOA as
// its question and answer, and it is sent again until answered.
func TestNotifySend(t *testing.T) {
	addr, got := fakeSecondary(t, 1, dns.RcodeSuccess)
	n := &notifier{attempts: 3, timeout: 100 * time.Millisecond, log: zap.NewNop(),
		local: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}
	z := testZone(t, "7")
	if err := n.send(context.Background(), z, addr); err != nil {
		t.Fatalf("send: %v", err)
	}
	var msgs []*dns.Msg
	for len(got) > 0 {
		msgs = append(msgs, <-got)
	}
	if len(msgs) != 2 {
		t.Fatalf("%d NOTIFYs sent, want 2 (the first dropped)", len(msgs))
	}
	m := msgs[1]
	if m.Opcode != dns.OpcodeNotify || !m.Authoritative || m.Response {
		t.Errorf("opcode %s aa %v qr %v, want NOTIFY, AA, a query", dns.OpcodeToString[m.Opcode], m.Authoritative, m.Response)
	}
	if len(m.Question) != 1 || m.Question[0].Name != "example.com." || m.Question[0].Qtype != dns.TypeSOA {
		t.Errorf("question %v, want example.com. SOA", m.Question)
	}
	if len(m.Answer) != 1 || m.Answer[0].(*dns.SOA).Serial != 7 {
		t.Errorf("answer %v, want the SOA with serial 7", m.Answer)
	}
}

// TestNotifyGivesUp: an unanswered NOTIFY is tried attempts times and
// fails; a refusal is an answer and is not retried.
func TestNotifyGivesUp(t *testing.T) {
	z := testZone(t, "1")
	n := &notifier{attempts: 3, timeout: 50 * time.Millisecond, log: zap.NewNop()}
	addr, got := fakeSecondary(t, 100, dns.RcodeSuccess)
	err := n.send(context.Background(), z, addr)
	if err == nil || !strings.Contains(err.Error(), "3 attempts") {
		t.Fatalf("unanswered: error %v, want one after 3 attempts", err)
	}
	if len(got) != 3 {
		t.Fatalf("%d NOTIFYs sent, want 3", len(got))
	}
	addr, got = fakeSecondary(t, 0, dns.RcodeRefused)
	if err := n.send(context.Background(), z, addr); err == nil || !strings.Contains(err.Error(), "REFUSED") {
		t.Fatalf("refused: error %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("%d NOTIFYs sent to a refusing secondary, want 1", len(got))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := n.send(ctx, z, addr); err == nil {
		t.Fatal("a cancelled send succeeded")
	}
}

func TestNotifyLocalAddr(t *testing.T) {
	n := &notifier{local: []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("192.0.2.1"),
		netip.MustParseAddr("2001:db8::1")}}
	for target, want := range map[string]string{
		"198.51.100.1:53":    "192.0.2.1",
		"127.0.0.2:5353":     "127.0.0.1",
		"[2001:db8::53]:53":  "2001:db8::1",
		"[::1]:53":           "invalid IP",
		"ns.example.net:53":  "invalid IP",
		"[::ffff:1.2.3.4]:5": "192.0.2.1",
	} {
		if got := n.localFor(target).String(); got != want {
			t.Errorf("localFor(%s) = %s, want %s", target, got, want)
		}
	}
}
