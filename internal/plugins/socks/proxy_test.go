package socks

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// fakeTransport records what a protocol does to its connection.
type fakeTransport struct {
	peer, host net.Addr

	mu                      sync.Mutex
	out                     bytes.Buffer
	lost, aborted, halfShut bool
	paused                  bool
	producer                protocol.Producer
}

func newFake(peer, host string) *fakeTransport {
	p, _ := net.ResolveTCPAddr("tcp", peer)
	h, _ := net.ResolveTCPAddr("tcp", host)
	return &fakeTransport{peer: p, host: h}
}

func (f *fakeTransport) Write(p []byte) { f.mu.Lock(); f.out.Write(p); f.mu.Unlock() }
func (f *fakeTransport) WriteMany(bufs ...[]byte) {
	for _, b := range bufs {
		f.Write(b)
	}
}
func (f *fakeTransport) LoseConnection() { f.mu.Lock(); f.lost = true; f.mu.Unlock() }
func (f *fakeTransport) Abort()          { f.mu.Lock(); f.aborted = true; f.mu.Unlock() }
func (f *fakeTransport) CloseWrite()     { f.mu.Lock(); f.halfShut = true; f.mu.Unlock() }
func (f *fakeTransport) PauseReading()   { f.mu.Lock(); f.paused = true; f.mu.Unlock() }
func (f *fakeTransport) ResumeReading()  { f.mu.Lock(); f.paused = false; f.mu.Unlock() }
func (f *fakeTransport) RegisterProducer(p protocol.Producer) {
	f.mu.Lock()
	f.producer = p
	f.mu.Unlock()
}
func (f *fakeTransport) CallLater(d time.Duration, fn func()) protocol.Timer {
	return time.AfterFunc(d, fn)
}
func (f *fakeTransport) PeerAddr() net.Addr { return f.peer }
func (f *fakeTransport) HostAddr() net.Addr { return f.host }

func (f *fakeTransport) written() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return bytes.Clone(f.out.Bytes())
}

func (f *fakeTransport) closed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lost || f.aborted
}

// dialer records dials; each is answered by answer (nil: left pending).
type dialer struct {
	mu     sync.Mutex
	addrs  []string
	protos []protocol.Protocol
	answer func(addr string, p protocol.Protocol, failed func(error))
}

func (d *dialer) dial(_ context.Context, ep endpoint.Client, f protocol.Factory) service.Connector {
	addr, p := ep.Address(), f.BuildProtocol(nil)
	failed := f.(protocol.ClientFactory).ClientConnectionFailed
	d.mu.Lock()
	d.addrs = append(d.addrs, addr)
	d.protos = append(d.protos, p)
	answer := d.answer
	d.mu.Unlock()
	if answer != nil {
		answer(addr, p, failed)
	}
	return nopConnector{}
}

// nopConnector is the Connector of a fake dial.
type nopConnector struct{}

func (nopConnector) Disconnect() {}
func (nopConnector) Abort()      {}

func (d *dialer) dialled() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.addrs...)
}

// connected answers every dial with a connection.
func connected(addr string, p protocol.Protocol, _ func(error)) {
	p.ConnectionMade(newFake(addr, "192.0.2.9:40000"))
}

func testServer(t *testing.T, d *dialer, hosts map[string][]string) *server {
	t.Helper()
	return &server{
		log: zap.NewNop(), rules: &rules{}, dial: d.dial,
		lookup: func(_ context.Context, _, host string) ([]netip.Addr, error) {
			as, ok := hosts[host]
			if !ok {
				return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
			}
			var out []netip.Addr
			for _, a := range as {
				out = append(out, netip.MustParseAddr(a))
			}
			return out, nil
		},
		handshakeTimeout: 5 * time.Second, connectTimeout: 5 * time.Second,
	}
}

// client opens a connection to s and returns its protocol and transport.
func client(s *server) (protocol.Protocol, *fakeTransport) {
	in := newFake("198.51.100.7:5555", "203.0.113.1:1080")
	p := s.factory().BuildProtocol(in.peer)
	p.ConnectionMade(in)
	return p, in
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSOCKS5ConnectRelaysEarlyData(t *testing.T) {
	d := &dialer{answer: connected}
	p, in := client(testServer(t, d, nil))
	// Greeting, request and the first bytes of the client's data at once.
	p.DataReceived([]byte("\x05\x01\x00" + "\x05\x01\x00\x01\xc0\x00\x02\x05\x00\x50" + "GET /"))
	waitFor(t, "the reply", func() bool { return len(in.written()) >= 12 })
	want := []byte{5, 0, 5, 0, 0, 1, 192, 0, 2, 9, 0x9c, 0x40}
	if got := in.written(); !bytes.Equal(got, want) {
		t.Fatalf("client got % x, want % x", got, want)
	}
	if got := d.dialled(); len(got) != 1 || got[0] != "192.0.2.5:80" {
		t.Fatalf("dialled %v", got)
	}
	out := d.protos[0].(*outbound).c.out.(*fakeTransport)
	if got := string(out.written()); got != "GET /" {
		t.Fatalf("target got %q, want the early data", got)
	}
	p.DataReceived([]byte(" HTTP/1.0\r\n"))
	d.protos[0].DataReceived([]byte("HTTP/1.0 200 OK\r\n"))
	if got := string(out.written()); got != "GET / HTTP/1.0\r\n" {
		t.Fatalf("target got %q", got)
	}
	if got := string(in.written()[12:]); got != "HTTP/1.0 200 OK\r\n" {
		t.Fatalf("client got %q", got)
	}
	if in.producer == nil || out.producer == nil {
		t.Fatal("no back-pressure registered")
	}
	p.(protocol.HalfCloser).ReadConnectionLost()
	if !out.halfShut {
		t.Fatal("client's half-close not passed on")
	}
}

func TestNameResolvedAndEveryAddressChecked(t *testing.T) {
	d := &dialer{answer: connected}
	s := testServer(t, d, map[string][]string{
		"rebind.test": {"127.0.0.1", "::ffff:192.0.2.8"},
		"inside.test": {"127.0.0.1", "169.254.169.254"},
	})
	p, _ := client(s)
	p.DataReceived([]byte("\x05\x01\x00\x05\x01\x00\x03\x0brebind.test\x00\x50"))
	waitFor(t, "a dial", func() bool { return len(d.dialled()) == 1 })
	if got := d.dialled()[0]; got != "192.0.2.8:80" {
		t.Fatalf("dialled %s; only the allowed address may be", got)
	}
	p, in := client(s)
	p.DataReceived([]byte("\x05\x01\x00\x05\x01\x00\x03\x0binside.test\x00\x50"))
	waitFor(t, "the refusal", in.closed)
	if got := in.written(); !bytes.Equal(got, []byte{5, 0, 5, repNotAllowed, 0, 1, 0, 0, 0, 0, 0, 0}) {
		t.Fatalf("client got % x, want REP 2", got)
	}
	if len(d.dialled()) != 1 {
		t.Fatalf("a refused name was dialled: %v", d.dialled())
	}
}

func TestRefusals(t *testing.T) {
	refusedDial := func(_ string, _ protocol.Protocol, failed func(error)) {
		failed(&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})
	}
	for _, tc := range []struct {
		name   string
		in     string
		answer func(string, protocol.Protocol, func(error))
		want   []byte
	}{
		{"socks5 loopback", "\x05\x01\x00\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x50", connected, []byte{5, 0, 5, 2, 0, 1, 0, 0, 0, 0, 0, 0}},
		{"socks4 loopback", "\x04\x01\x00\x50\x7f\x00\x00\x01\x00", connected, []byte{0, 91, 0, 0, 0, 0, 0, 0}},
		{"socks4a unresolvable", "\x04\x01\x00\x50\x00\x00\x00\x01\x00nowhere.test\x00", connected, []byte{0, 91, 0, 0, 0, 0, 0, 0}},
		{"socks5 unresolvable", "\x05\x01\x00\x05\x01\x00\x03\x0cnowhere.test\x00\x50", connected, []byte{5, 0, 5, 4, 0, 1, 0, 0, 0, 0, 0, 0}},
		{"refused port", "\x05\x01\x00\x05\x01\x00\x01\xc0\x00\x02\x05\x00\x50", refusedDial, []byte{5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0}},
		{"bind", "\x05\x01\x00\x05\x02\x00\x01\xc0\x00\x02\x05\x00\x50", connected, []byte{5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0}},
		{"udp associate", "\x05\x01\x00\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00", connected, []byte{5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0}},
		{"socks4 bind", "\x04\x02\x00\x50\xc0\x00\x02\x05\x00", connected, []byte{0, 91, 0, 0, 0, 0, 0, 0}},
		{"address type", "\x05\x01\x00\x05\x01\x00\x07\x01\x02", connected, []byte{5, 0, 5, 8, 0, 1, 0, 0, 0, 0, 0, 0}},
		{"no acceptable method", "\x05\x01\x02", connected, []byte{5, 0xff}},
		{"unknown version", "GET / HTTP/1.1\r\n\r\n", connected, nil},
		{"no methods", "\x05\x00", connected, []byte{5, 0xff}},
		{"socks4 user id too long", "\x04\x01\x00\x50\xc0\x00\x02\x05" + strings.Repeat("u", 300), connected, []byte{0, 91, 0, 0, 0, 0, 0, 0}},
		{"bad request version", "\x05\x01\x00\x04\x01\x00\x01", connected, []byte{5, 0, 5, 1, 0, 1, 0, 0, 0, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &dialer{answer: tc.answer}
			p, in := client(testServer(t, d, nil))
			p.DataReceived([]byte(tc.in))
			waitFor(t, "the close", in.closed)
			if got := in.written(); !bytes.Equal(got, tc.want) {
				t.Fatalf("client got % x, want % x", got, tc.want)
			}
		})
	}
}

func TestDestinationDenyWinsOverAllow(t *testing.T) {
	d := &dialer{answer: connected}
	s := testServer(t, d, nil)
	rule, _ := parseDeny("127.0.0.1/32:22")
	s.rules = &rules{allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, deny: []denyRule{rule}}
	p, in := client(s)
	p.DataReceived([]byte("\x05\x01\x00\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x16"))
	waitFor(t, "the close", in.closed)
	if got := in.written(); got[3] != repNotAllowed {
		t.Fatalf("port 22 denied but reply % x", got)
	}
	p, _ = client(s)
	p.DataReceived([]byte("\x05\x01\x00\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x50"))
	waitFor(t, "the dial", func() bool { return len(d.dialled()) == 1 })
	if got := d.dialled()[0]; got != "127.0.0.1:80" {
		t.Fatalf("dialled %s", got)
	}
}

func writeUsers(t *testing.T, lines ...string) string {
	t.Helper()
	var b bytes.Buffer
	for i := 0; i+1 < len(lines); i += 2 {
		h, err := bcrypt.GenerateFromPassword([]byte(lines[i+1]), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(lines[i] + ":" + string(h) + "\n")
	}
	p := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPasswordLogin(t *testing.T) {
	u, err := newUsers(writeUsers(t, "alice", "secret"))
	if err != nil {
		t.Fatal(err)
	}
	d := &dialer{answer: connected}
	s := testServer(t, d, nil)
	s.users = u

	// Right password, everything pipelined.
	p, in := client(s)
	p.DataReceived([]byte("\x05\x02\x00\x02" + "\x01\x05alice\x06secret" + "\x05\x01\x00\x01\xc0\x00\x02\x05\x00\x50"))
	waitFor(t, "the connect reply", func() bool { return len(in.written()) >= 14 })
	if got := in.written()[:5]; !bytes.Equal(got, []byte{5, 2, 1, 0, 5}) || in.written()[5] != repSucceeded {
		t.Fatalf("client got % x", in.written())
	}

	for _, tc := range []struct{ name, in string }{
		{"wrong password", "\x05\x01\x02\x01\x05alice\x05wrong"},
		{"unknown user", "\x05\x01\x02\x01\x03bob\x06secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, in := client(s)
			p.DataReceived([]byte(tc.in))
			waitFor(t, "the close", in.closed)
			if got := in.written(); !bytes.Equal(got, []byte{5, 2, 1, 1}) {
				t.Fatalf("client got % x, want a failed login", got)
			}
		})
	}
	t.Run("no password offered", func(t *testing.T) {
		p, in := client(s)
		p.DataReceived([]byte("\x05\x01\x00"))
		waitFor(t, "the close", in.closed)
		if got := in.written(); !bytes.Equal(got, []byte{5, 0xff}) {
			t.Fatalf("client got % x", got)
		}
	})
	t.Run("socks4 with users", func(t *testing.T) {
		p, in := client(s)
		p.DataReceived([]byte("\x04\x01\x00\x50\xc0\x00\x02\x05alice\x00"))
		waitFor(t, "the close", in.closed)
		if got := in.written(); !bytes.Equal(got, []byte{0, 91, 0, 0, 0, 0, 0, 0}) {
			t.Fatalf("client got % x", got)
		}
	})
	if got := len(d.dialled()); got != 1 {
		t.Fatalf("%d dials; only the logged-in client may connect", got)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	s := testServer(t, &dialer{}, nil)
	s.handshakeTimeout = 20 * time.Millisecond
	var mu sync.Mutex
	var reasons []string
	s.count.handshake = func(r string) { mu.Lock(); reasons = append(reasons, r); mu.Unlock() }
	p, in := client(s)
	p.DataReceived([]byte("\x05\x01"))
	waitFor(t, "the abort", in.closed)
	mu.Lock()
	defer mu.Unlock()
	if len(reasons) != 1 || reasons[0] != "timeout" {
		t.Fatalf("counted %v", reasons)
	}
}

func TestOverlongHandshakeCutOff(t *testing.T) {
	p, in := client(testServer(t, &dialer{}, nil))
	// A SOCKS 4 user id that never ends.
	p.DataReceived([]byte("\x04\x01\x00\x50\xc0\x00\x02\x05"))
	for range 10 {
		p.DataReceived(bytes.Repeat([]byte("u"), 100))
	}
	if !in.closed() || !bytes.Equal(in.written(), []byte{0, 91, 0, 0, 0, 0, 0, 0}) {
		t.Fatalf("an endless user id was not cut off with a 91: % x", in.written())
	}
}

// FuzzConn drives a connection's handshake with arbitrary bytes in
// arbitrary chunks: never a panic, never a reply longer than a few
// messages, and every target dialled allowed by the rules.
func FuzzConn(f *testing.F) {
	for _, s := range []string{
		"\x05\x01\x00\x05\x01\x00\x01\xc0\x00\x02\x05\x00\x50",
		"\x05\x01\x00\x05\x01\x00\x03\x0brebind.test\x00\x50",
		"\x04\x01\x00\x50\x00\x00\x00\x01\x00rebind.test\x00",
		"\x05\x02\x00\x02\x01\x05alice\x06secret",
		"\x05\x01\x00\x05\x01\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x16",
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, b []byte, chunk uint8) {
		d := &dialer{answer: func(addr string, p protocol.Protocol, failed func(error)) {
			if ap := netip.MustParseAddrPort(addr); ap.Addr().IsLoopback() || ap.Addr().IsLinkLocalUnicast() {
				t.Errorf("dialled %s", addr)
			}
			failed(errors.New("no network in a fuzz test"))
		}}
		s := testServer(t, d, map[string][]string{"rebind.test": {"127.0.0.1", "192.0.2.8"}})
		s.count.request = func(string, string) {}
		p, in := client(s)
		step := int(chunk)%16 + 1
		for len(b) > 0 && !in.closed() {
			n := min(step, len(b))
			p.DataReceived(b[:n])
			b = b[n:]
		}
		// Let a resolution or dial under way finish before the test ends.
		c := p.(*inbound).c
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			c.mu.Lock()
			busy := c.phase == phaseConnect
			c.mu.Unlock()
			if !busy {
				break
			}
		}
		p.ConnectionLost(nil)
		if n := len(in.written()); n > 64 {
			t.Fatalf("%d bytes of replies", n)
		}
	})
}
