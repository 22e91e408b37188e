package dns

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap"

	"github.com/twistd-go/twistd/service"
)

var testClient = netip.MustParseAddrPort("192.0.2.200:5353")

func newTestServer(t testing.TB) *Server {
	t.Helper()
	s, err := newServer(settings{zones: []string{"testdata/example.com.zone"}, ttl: 60, answerCache: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func query(t testing.TB, h *Handler, m *dns.Msg, tcp bool) *dns.Msg {
	t.Helper()
	raw, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	out := h.exchange(context.Background(), raw, testClient, tcp, nil)
	if out == nil {
		t.Fatal("no reply")
	}
	r := new(dns.Msg)
	if err := r.Unpack(out); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestHandlerTransport(t *testing.T) {
	h := newTestServer(t).h
	q := func(name string, qtype uint16, edns int) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		if edns > 0 {
			m.SetEdns0(uint16(edns), true)
		}
		return m
	}
	t.Run("edns size and DO echoed", func(t *testing.T) {
		r := query(t, h, q("www.example.com.", dns.TypeA, 4096), false)
		opt := r.IsEdns0()
		if opt == nil || opt.UDPSize() != ednsSize || !opt.Do() {
			t.Fatalf("OPT %v, want size %d with DO", opt, ednsSize)
		}
		if !r.Authoritative || r.RecursionAvailable {
			t.Errorf("flags: %v", r.MsgHdr)
		}
	})
	t.Run("badvers", func(t *testing.T) {
		m := q("www.example.com.", dns.TypeA, 1232)
		m.IsEdns0().SetVersion(1)
		r := query(t, h, m, false)
		if r.Rcode != dns.RcodeBadVers {
			t.Fatalf("rcode %s, want BADVERS", dns.RcodeToString[r.Rcode])
		}
	})
	t.Run("refused outside", func(t *testing.T) {
		r := query(t, h, q("example.org.", dns.TypeA, 0), false)
		if r.Rcode != dns.RcodeRefused || r.Authoritative {
			t.Fatalf("got %v", r.MsgHdr)
		}
	})
	t.Run("two questions", func(t *testing.T) {
		m := q("www.example.com.", dns.TypeA, 0)
		m.Question = append(m.Question, m.Question[0])
		if r := query(t, h, m, false); r.Rcode != dns.RcodeFormatError {
			t.Fatalf("rcode %s", dns.RcodeToString[r.Rcode])
		}
	})
	t.Run("update not implemented", func(t *testing.T) {
		m := q("example.com.", dns.TypeSOA, 0)
		m.Opcode = dns.OpcodeUpdate
		if r := query(t, h, m, false); r.Rcode != dns.RcodeNotImplemented {
			t.Fatalf("rcode %s", dns.RcodeToString[r.Rcode])
		}
	})
	t.Run("cached answer keeps the id", func(t *testing.T) {
		m := q("mail.example.com.", dns.TypeAAAA, 0)
		query(t, h, m, false) // kept the second time it is asked
		first := query(t, h, m, false)
		raw, _ := m.Pack()
		if h.answers.Load().get(raw) == nil {
			t.Fatal("answer not cached")
		}
		m.Id++
		raw, _ = m.Pack()
		a := h.answers.Load().get(raw)
		out := a.writeTo(nil, raw)
		second := new(dns.Msg)
		if err := second.Unpack(out); err != nil {
			t.Fatal(err)
		}
		if second.Id != m.Id || second.String()[20:] == "" || len(second.Answer) != len(first.Answer) {
			t.Fatalf("cached answer %v", second)
		}
	})
}

func TestTruncation(t *testing.T) {
	var rrs []dns.RR
	soa, _ := dns.NewRR("big.test. 60 IN SOA ns h 1 2 3 4 5")
	rrs = append(rrs, soa)
	for i := range 100 {
		rr, _ := dns.NewRR("txt.big.test. 60 IN TXT \"" + string(rune('a'+i%26)) + itoa(i) + " padding padding padding padding\"")
		rrs = append(rrs, rr)
	}
	z, err := NewZone("big.test.", rrs)
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{log: nopLogger(), cacheSize: 10}
	h.setData(&store{zones: map[string]*Zone{z.Origin: z}})
	m := new(dns.Msg)
	m.SetQuestion("txt.big.test.", dns.TypeTXT)
	if r := query(t, h, m, false); !r.Truncated {
		t.Error("UDP answer over 512 bytes without TC")
	}
	m.SetEdns0(1232, false)
	raw, _ := m.Pack()
	if out := h.exchange(context.Background(), raw, testClient, false, nil); len(out) > 1232 {
		t.Errorf("EDNS answer of %d bytes", len(out))
	}
	if r := query(t, h, m, true); r.Truncated || len(r.Answer) != 100 {
		t.Errorf("TCP answer truncated: TC %v, %d records", r.Truncated, len(r.Answer))
	}
}

func TestMalformed(t *testing.T) {
	h := newTestServer(t).h
	for _, raw := range [][]byte{
		nil,
		{0, 1, 2},
		{0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w'},                     // truncated question
		{0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1},            // compression loop
		{0x12, 0x34, 0x01, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 1}, // absurd counts
	} {
		out := h.exchange(context.Background(), raw, testClient, false, nil)
		if out == nil {
			continue
		}
		r := new(dns.Msg)
		if err := r.Unpack(out); err != nil {
			t.Fatalf("reply to %x does not parse: %v", raw, err)
		}
		if r.Rcode != dns.RcodeFormatError || r.Authoritative {
			t.Errorf("reply to %x: %v", raw, r.MsgHdr)
		}
	}
}

// FuzzHandler feeds raw packets to the query handler: it must never panic,
// and whatever it sends back must parse and never be both authoritative
// and an error.
func FuzzHandler(f *testing.F) {
	h := newTestServer(f).h
	for _, q := range []struct {
		name string
		t    uint16
	}{{"www.example.com.", dns.TypeA}, {"x.wild.example.com.", dns.TypeTXT}, {"sub.example.com.", dns.TypeNS}, {"example.com.", dns.TypeANY}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.t)
		m.SetEdns0(1232, true)
		raw, _ := m.Pack()
		f.Add(raw)
	}
	f.Add([]byte{0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, tcp := range []bool{false, true} {
			out := h.exchange(context.Background(), raw, testClient, tcp, nil)
			if out == nil {
				continue
			}
			r := new(dns.Msg)
			if err := r.Unpack(out); err != nil {
				t.Fatalf("reply does not parse: %v", err)
			}
			if !tcp && len(out) > ednsSize {
				t.Fatalf("UDP reply of %d bytes", len(out))
			}
			if r.Authoritative && r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
				t.Fatalf("authoritative %s", dns.RcodeToString[r.Rcode])
			}
		}
		if a := h.answers.Load().get(raw); a != nil {
			_ = a.writeTo(nil, raw)
		}
	})
}

func nopLogger() *zap.Logger { return zap.NewNop() }

// An answer worked out from data that was replaced while it was being
// worked out must not outlive that data in the answer cache: a secondary
// asked before its first transfer would otherwise answer SERVFAIL from the
// cache after it.
func TestAnswerCacheDropsAnswersFromReplacedData(t *testing.T) {
	h := &Handler{log: nopLogger(), cacheSize: 10}
	h.setData(&store{})
	m := new(dns.Msg)
	m.SetQuestion("www.example.com.", dns.TypeA)
	raw, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	req, rep := h.decide(raw, testClient, false)
	if rep.msg.Rcode == dns.RcodeSuccess {
		t.Fatalf("answered %s with no zone", dns.RcodeToString[rep.msg.Rcode])
	}
	// The zone arrives (setData) between the decision and the reply.
	s := newTestServer(t)
	h.setData(s.h.data.Load())
	if out := h.respond(context.Background(), req, rep, raw, testClient, false, nil, time.Now()); out == nil {
		t.Fatal("no reply")
	}
	if a := h.answers.Load().get(raw); a != nil {
		t.Fatalf("the new data's cache holds the old data's answer (%s)", dns.RcodeToString[a.rcode])
	}
	if r := query(t, h, m, false); r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
		t.Fatalf("after the zone arrived: %s, %d answers", dns.RcodeToString[r.Rcode], len(r.Answer))
	}
}

// Dropping additional records that do not fit is not truncation (RFC
// 2181 §9): an MX answer without EDNS0 comes without TC when only its
// glue is left out. When the answer itself does not fit, TC is set and no
// RRset is sent in part.
func TestTruncationOnlyForAnswerAndAuthority(t *testing.T) {
	text := "$ORIGIN t.test.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\n"
	for i := range 6 {
		n := "mail" + itoa(i) + "-with-a-long-name-to-fill-the-message"
		text += "@ MX 10 " + n + "\n" + n + " AAAA 2001:db8::" + itoa(i+1) + "\n" + n + " A 192.0.2." + itoa(i+1) + "\n"
	}
	text += "big TXT \"" + strings.Repeat("x", 200) + "\"\nbig TXT \"" + strings.Repeat("y", 200) + "\"\nbig TXT \"" + strings.Repeat("z", 200) + "\"\n"
	z := parseTestZone(t, text)
	h := &Handler{log: nopLogger(), cacheSize: 10}
	h.setData(&store{zones: map[string]*Zone{z.Origin: z}})
	m := new(dns.Msg)
	m.SetQuestion("t.test.", dns.TypeMX)
	r := query(t, h, m, false)
	if r.Truncated || len(r.Answer) != 6 || len(r.Extra) == 12 {
		t.Fatalf("MX without EDNS0: TC %v, %d answers, %d additional", r.Truncated, len(r.Answer), len(r.Extra))
	}
	m.SetQuestion("big.t.test.", dns.TypeTXT)
	r = query(t, h, m, false)
	if !r.Truncated || len(r.Answer) != 0 {
		t.Fatalf("TXT set over 512 bytes: TC %v, %d of its 3 records sent", r.Truncated, len(r.Answer))
	}
}

// Two OPT records are a FORMERR (RFC 6891 §6.1.1).
func TestTwoOPTs(t *testing.T) {
	h := newTestServer(t).h
	m := new(dns.Msg)
	m.SetQuestion("www.example.com.", dns.TypeA)
	m.SetEdns0(1232, false)
	m.Extra = append(m.Extra, m.Extra[0])
	if r := query(t, h, m, false); r.Rcode != dns.RcodeFormatError || r.Authoritative {
		t.Fatalf("two OPTs: %s", dns.RcodeToString[r.Rcode])
	}
}

func ixfr(zone string, serial uint32) *dns.Msg {
	m := new(dns.Msg)
	m.SetIxfr(zone, serial, "ns.", "h.")
	return m
}

// IXFR over UDP is answered as RFC 1995 §2 allows: with a single SOA,
// telling an up-to-date client so and any other to use TCP (Knot does
// the same).
func TestIXFROverUDP(t *testing.T) {
	s := newTestServer(t)
	s.h.axfr = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	for _, serial := range []uint32{2024010101, 2024010102, 1} {
		r := query(t, s.h, ixfr("example.com.", serial), false)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].(*dns.SOA).Serial != 2024010101 {
			t.Fatalf("IXFR serial %d over UDP: %s, answer %v", serial, dns.RcodeToString[r.Rcode], r.Answer)
		}
	}
	s.h.axfr = nil
	if r := query(t, s.h, ixfr("example.com.", 1), false); r.Rcode != dns.RcodeRefused || len(r.Answer) != 0 {
		t.Fatalf("IXFR from a client not allowed: %s", dns.RcodeToString[r.Rcode])
	}
}

// IXFR with our serial or a newer one gets a single SOA (RFC 1995 §2);
// an older one the whole zone.
func TestIXFRUpToDate(t *testing.T) {
	s := newTestServer(t)
	s.env = &service.Env{Stats: &service.Stats{}}
	s.h.axfr = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	for _, tt := range []struct {
		serial uint32
		want   int
	}{{2024010101, 1}, {2024010200, 1}, {2024010100, len(s.h.data.Load().zones["example.com."].Records()) + 1}} {
		var buf bytes.Buffer
		if err := s.transferOut(&buf, ixfr("example.com.", tt.serial), testClient); err != nil {
			t.Fatal(err)
		}
		n := 0
		for b := buf.Bytes(); len(b) > 2; {
			l := int(b[0])<<8 | int(b[1])
			var r dns.Msg
			if err := r.Unpack(b[2 : 2+l]); err != nil {
				t.Fatal(err)
			}
			n += len(r.Answer)
			b = b[2+l:]
		}
		if n != tt.want {
			t.Errorf("IXFR serial %d: %d records, want %d", tt.serial, n, tt.want)
		}
	}
}
