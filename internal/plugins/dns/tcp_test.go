package dns

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// recordingTransport is a Transport that keeps what is written to it.
type recordingTransport struct {
	mu      sync.Mutex
	out     []byte
	paused  bool
	lose    bool
	aborted bool
}

func (r *recordingTransport) Write(p []byte) {
	r.mu.Lock()
	r.out = append(r.out, p...)
	r.mu.Unlock()
}

func (r *recordingTransport) WriteMany(bufs ...[]byte) {
	for _, b := range bufs {
		r.Write(b)
	}
}

func (r *recordingTransport) LoseConnection()                    { r.mu.Lock(); r.lose = true; r.mu.Unlock() }
func (r *recordingTransport) Abort()                             { r.mu.Lock(); r.aborted = true; r.mu.Unlock() }
func (r *recordingTransport) CloseWrite()                        {}
func (r *recordingTransport) PauseReading()                      { r.mu.Lock(); r.paused = true; r.mu.Unlock() }
func (r *recordingTransport) ResumeReading()                     { r.mu.Lock(); r.paused = false; r.mu.Unlock() }
func (r *recordingTransport) RegisterProducer(protocol.Producer) {}
func (r *recordingTransport) PeerAddr() net.Addr                 { return net.TCPAddrFromAddrPort(testClient) }
func (r *recordingTransport) HostAddr() net.Addr                 { return nil }

// replies splits what was written into messages.
func (r *recordingTransport) replies(t testing.TB) []*dns.Msg {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var msgs []*dns.Msg
	buf := r.out
	for len(buf) > 0 {
		msg, rest, ok := nextMessage(buf)
		if !ok {
			t.Fatalf("a partial message was written: %x", buf)
		}
		m := new(dns.Msg)
		if err := m.Unpack(msg); err != nil {
			t.Fatalf("a reply does not parse: %v", err)
		}
		msgs = append(msgs, m)
		buf = rest
	}
	return msgs
}

// newTestSession starts a session of a test server on a recording transport.
func newTestSession(t testing.TB) (*Server, *tcpSession, *recordingTransport) {
	t.Helper()
	s := newTestServer(t)
	s.env = &service.Env{Stats: &service.Stats{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	t.Cleanup(s.cancel)
	c, tr := sessionOf(s)
	return s, c, tr
}

// sessionOf starts a session of s on a recording transport.
func sessionOf(s *Server) (*tcpSession, *recordingTransport) {
	c := s.newSession(nil).(*tcpSession)
	tr := &recordingTransport{}
	c.ConnectionMade(tr)
	return c, tr
}

func framed(t testing.TB, id uint16, name string, qtype uint16) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = id
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
}

func TestTCPSessionAnswersMessagesSplitAnyhow(t *testing.T) {
	_, c, tr := newTestSession(t)
	var stream []byte
	for i := range 3 {
		stream = append(stream, framed(t, uint16(10+i), "www.example.com.", dns.TypeA)...)
	}
	// One byte at a time: every message boundary falls mid-read.
	for i := range stream {
		c.DataReceived(stream[i : i+1])
	}
	got := tr.replies(t)
	if len(got) != 3 {
		t.Fatalf("%d replies, want 3", len(got))
	}
	for i, r := range got {
		if r.Id != uint16(10+i) || len(r.Answer) == 0 {
			t.Fatalf("reply %d: id %d, %d answers", i, r.Id, len(r.Answer))
		}
	}
	if len(c.pending) != 0 {
		t.Fatalf("%d bytes left pending", len(c.pending))
	}
}

func TestTCPSessionTransferHoldsLaterQueries(t *testing.T) {
	s, c, tr := newTestSession(t)
	s.h.axfr = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	c.DataReceived(append(framed(t, 1, "example.com.", dns.TypeAXFR), framed(t, 2, "www.example.com.", dns.TypeA)...))
	s.bg.Wait()
	got := tr.replies(t)
	if len(got) < 2 {
		t.Fatalf("%d replies", len(got))
	}
	last := got[len(got)-1]
	if last.Id != 2 {
		t.Fatalf("the query after the transfer was answered out of turn: last id %d", last.Id)
	}
	transfer := got[:len(got)-1]
	first, end := transfer[0].Answer[0], transfer[len(transfer)-1].Answer
	if first.Header().Rrtype != dns.TypeSOA || end[len(end)-1].Header().Rrtype != dns.TypeSOA {
		t.Fatalf("a transfer starts and ends with the SOA: %v … %v", first, end[len(end)-1])
	}
}

func TestTCPSessionDrainClosesWhenIdle(t *testing.T) {
	_, c, tr := newTestSession(t)
	c.DataReceived(framed(t, 1, "www.example.com.", dns.TypeA))
	c.drain()
	if !tr.lose {
		t.Fatal("an idle session was not closed on drain")
	}
	c.DataReceived(framed(t, 2, "www.example.com.", dns.TypeA))
	if n := len(tr.replies(t)); n != 1 {
		t.Fatalf("%d replies; a draining session takes no new query", n)
	}
}

func TestTCPSessionCutsOffAClientThatNeverReads(t *testing.T) {
	_, c, tr := newTestSession(t)
	c.mu.Lock()
	c.inFlight = maxInFlight // as if upstream were slow for all of them
	c.mu.Unlock()
	q := framed(t, 1, "www.example.com.", dns.TypeA)
	for len(c.pending) <= maxPending && !tr.aborted {
		c.DataReceived(q)
	}
	if !tr.aborted || !tr.paused {
		t.Fatalf("aborted %v, paused %v: a session holding back queries must stop reading and bound what it keeps", tr.aborted, tr.paused)
	}
}

// FuzzTCPSession feeds a byte stream, cut where the fuzzer says, to a
// session: it must never panic, write only whole messages that parse, and
// answer at most one reply per message (a transfer aside).
func FuzzTCPSession(f *testing.F) {
	f.Add(framed(f, 1, "www.example.com.", dns.TypeA), uint8(3))
	f.Add(append(framed(f, 1, "example.com.", dns.TypeANY), 0, 5, 1, 2), uint8(1))
	f.Add([]byte{0, 0, 0, 12, 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}, uint8(7))
	s, _, _ := newTestSession(f)
	f.Fuzz(func(t *testing.T, stream []byte, cut uint8) {
		c, tr := sessionOf(s)
		step := int(cut)%17 + 1
		for i := 0; i < len(stream); i += step {
			c.DataReceived(stream[i:min(i+step, len(stream))])
		}
		s.bg.Wait()
		whole := 0
		for buf := stream; ; whole++ {
			_, rest, ok := nextMessage(buf)
			if !ok {
				break
			}
			buf = rest
		}
		if n := len(tr.replies(t)); n > whole {
			t.Fatalf("%d replies to %d messages", n, whole)
		}
	})
}

// CallLater implements the Transport: the test does not serialise timers.
func (*recordingTransport) CallLater(d time.Duration, f func()) protocol.Timer {
	return time.AfterFunc(d, f)
}
