package reactor

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// oneLoopServer serves f from a single event loop, so that all its
// connections share it.
func oneLoopServer(t *testing.T, f protocol.Factory) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := newLoop(nopLogger())
	if err != nil {
		t.Fatal(err)
	}
	fd, isUnix, _ := rawListener(ln)
	s, err := newEstreamServer(fd, isUnix, service.Listener{Stream: ln}, f, []*loop{l}, nopLogger(), &service.Stats{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(cancelled()); l.stop(); ln.Close() })
	return ln.Addr().String()
}

func dialT(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func TestCurgTellsGoroutinesApart(t *testing.T) {
	g := curg()
	if g == 0 {
		t.Skip("no goroutine identity on this architecture: every Write goes out at once")
	}
	if curg() != g {
		t.Fatal("curg changed within one goroutine")
	}
	other := make(chan uintptr)
	go func() { other <- curg() }()
	if o := <-other; o == g || o == 0 {
		t.Fatalf("another goroutine's curg is %#x, ours %#x", o, g)
	}
}

// room is a chat room on one loop: a line from one member is written to
// every other member, one Write per line and member. seen records, from
// inside the callback, what each Write left queued.
type room struct {
	mu      sync.Mutex
	members []*member
	queued  []int // after each broadcast, the bytes queued on the others
}

type member struct {
	protocol.Base
	r *room
}

func (m *member) ConnectionMade(t protocol.Transport) {
	m.Base.ConnectionMade(t)
	m.r.mu.Lock()
	m.r.members = append(m.r.members, m)
	m.r.mu.Unlock()
	t.Write([]byte("hi\n"))
}

func (m *member) DataReceived(d []byte) {
	m.r.mu.Lock()
	others := make([]*member, 0, len(m.r.members))
	for _, o := range m.r.members {
		if o != m {
			others = append(others, o)
		}
	}
	m.r.mu.Unlock()
	for _, line := range bytes.SplitAfter(d, []byte("\n")) {
		for _, o := range others {
			o.Transport.Write(line)
		}
	}
	q := 0
	for _, o := range others {
		c := o.Transport.(*econn)
		c.mu.Lock()
		q += c.queued
		c.mu.Unlock()
	}
	m.r.mu.Lock()
	m.r.queued = append(m.r.queued, q)
	m.r.mu.Unlock()
}

// Writes made on the loop wait in the queues for the end of the turn —
// the callback sees them queued, not written — and then arrive whole and
// in order at every member.
func TestLoopWritesWaitForTheEndOfTheTurn(t *testing.T) {
	if curg() == 0 {
		t.Skip("no goroutine identity on this architecture")
	}
	r := &room{}
	addr := oneLoopServer(t, protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &member{r: r} }))
	const n = 5
	var conns []*bufio.Reader
	var raw []net.Conn
	for i := 0; i < n; i++ {
		c := dialT(t, addr)
		rd := bufio.NewReader(c)
		if l, err := rd.ReadString('\n'); err != nil || l != "hi\n" {
			t.Fatalf("greeting: %q, %v", l, err)
		}
		conns, raw = append(conns, rd), append(raw, c)
	}
	waitFor(t, "every member in the room", func() bool { r.mu.Lock(); defer r.mu.Unlock(); return len(r.members) == n })
	msg := "one\ntwo\nthree\n"
	if _, err := raw[0].Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < n; i++ {
		got := ""
		for len(got) < len(msg) {
			l, err := conns[i].ReadString('\n')
			if err != nil {
				t.Fatalf("member %d: %q then %v", i, got, err)
			}
			got += l
		}
		if got != msg {
			t.Fatalf("member %d got %q, want %q", i, got, msg)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queued) == 0 || r.queued[0] != (n-1)*len(msg) {
		t.Fatalf("bytes queued on the others inside the callback: %v, want %d first", r.queued, (n-1)*len(msg))
	}
}

// made hands each new transport to the test.
type made struct {
	protocol.Base
	ch chan protocol.Transport
}

func (m *made) ConnectionMade(t protocol.Transport) { m.Base.ConnectionMade(t); m.ch <- t }

// A Write from a goroutine of its own goes to the socket at once: nothing
// is left queued for a loop to flush later.
func TestForeignWriteGoesOutAtOnce(t *testing.T) {
	ch := make(chan protocol.Transport, 1)
	addr := oneLoopServer(t, protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &made{ch: ch} }))
	c := dialT(t, addr)
	tr := <-ch
	tr.Write([]byte("now\n"))
	e := tr.(*econn)
	e.mu.Lock()
	q, d := e.queued, e.deferred
	e.mu.Unlock()
	if q != 0 || d {
		t.Fatalf("after a Write from another goroutine: %d bytes queued, deferred %v", q, d)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "now\n" {
		t.Fatalf("read %q, %v", line, err)
	}
}

// scripted is a pair of connections on one loop: the second's first
// read runs finish on the first's transport, so that what finish writes
// is written from a callback of another connection, deferred.
type scripted struct {
	protocol.Base
	victims chan protocol.Transport
	finish  func(t protocol.Transport)
	victim  bool
}

func (s *scripted) ConnectionMade(t protocol.Transport) {
	s.Base.ConnectionMade(t)
	if s.victim {
		s.victims <- t
	}
}

func (s *scripted) DataReceived([]byte) {
	if !s.victim {
		s.finish(<-s.victims)
	}
}

// serveScript returns the first connection, once finish has run on it.
func serveScript(t *testing.T, finish func(t protocol.Transport)) net.Conn {
	t.Helper()
	victims := make(chan protocol.Transport, 1)
	var n int
	var mu sync.Mutex
	addr := oneLoopServer(t, protocol.FactoryFunc(func(net.Addr) protocol.Protocol {
		mu.Lock()
		defer mu.Unlock()
		n++
		return &scripted{victims: victims, finish: finish, victim: n == 1}
	}))
	c := dialT(t, addr)
	waitFor(t, "the first connection", func() bool { mu.Lock(); defer mu.Unlock(); return n == 1 })
	trigger := dialT(t, addr)
	if _, err := trigger.Write([]byte("go")); err != nil {
		t.Fatal(err)
	}
	return c
}

// lines writes n numbered lines of size bytes, one Write each.
func lines(t protocol.Transport, n, size int) string {
	var all strings.Builder
	for i := 0; i < n; i++ {
		l := fmt.Sprintf("%06d ", i)
		l += strings.Repeat("x", size-len(l)-1) + "\n"
		all.WriteString(l)
		t.Write([]byte(l))
	}
	return all.String()
}

// Many small Writes from another connection's callback, past the
// deferring bound, then
// LoseConnection: every byte arrives, in order, then the EOF.
func TestLoopWritesThenLoseConnection(t *testing.T) {
	want := make(chan string, 1)
	c := serveScript(t, func(tr protocol.Transport) {
		want <- lines(tr, 3000, 100) // 300 KB: past maxDeferred and the high water mark
		tr.LoseConnection()
	})
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if w := <-want; string(got) != w {
		t.Fatalf("got %d bytes, want %d (in order)", len(got), len(w))
	}
}

// WriteMany on the loop keeps its place among Writes.
func TestLoopWriteManyOrder(t *testing.T) {
	c := serveScript(t, func(tr protocol.Transport) {
		tr.Write([]byte("a"))
		tr.WriteMany([]byte("b"), nil, []byte("c"))
		tr.Write([]byte("d"))
		tr.WriteMany(bytes.Repeat([]byte("e"), maxDeferred), []byte("f"))
		tr.Write([]byte("g\n"))
		tr.LoseConnection()
	})
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := "abcd" + strings.Repeat("e", maxDeferred) + "fg\n"; string(got) != want {
		t.Fatalf("got %q...", got[:min(len(got), 16)])
	}
}

// What a callback wrote to a connection goes out ahead of a file it then
// sends there, and at once: SendFile does not wait for the end of the turn.
func TestLoopWriteThenSendFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	body := strings.Repeat("file ", 1000)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sent := make(chan int64, 1)
	c := serveScript(t, func(tr protocol.Transport) {
		tr.Write([]byte("header\n"))
		n, _ := tr.(protocol.FileSender).SendFile(f, 0, int64(len(body)))
		sent <- n
		tr.LoseConnection()
	})
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if n := <-sent; n != int64(len(body)) {
		t.Fatalf("SendFile after a Write sent %d of %d bytes at once", n, len(body))
	}
	if string(got) != "header\n"+body {
		t.Fatalf("got %d bytes, want the header then the file (%d)", len(got), 7+len(body))
	}
}

// Abort after a Write on the loop: the Write's bytes still leave, as when
// each Write went out at once.
func TestLoopWriteThenAbort(t *testing.T) {
	c := serveScript(t, func(tr protocol.Transport) {
		tr.Write([]byte("bye\n"))
		tr.Abort()
	})
	got, _ := io.ReadAll(c)
	if string(got) != "bye\n" {
		t.Fatalf("got %q, want the line written before Abort", got)
	}
}

// Detach after a Write on the loop: the bytes are written first, so the
// socket can be handed over.
func TestLoopWriteThenDetach(t *testing.T) {
	errs := make(chan error, 1)
	c := serveScript(t, func(tr protocol.Transport) {
		tr.Write([]byte("before\n"))
		f, err := tr.(protocol.Detacher).Detach()
		if err == nil {
			_, err = f.Write([]byte("after\n"))
			f.Close()
		}
		errs <- err
	})
	if err := <-errs; err != nil {
		t.Fatal("Detach after a Write:", err)
	}
	got, _ := io.ReadAll(c)
	if string(got) != "before\nafter\n" {
		t.Fatalf("got %q", got)
	}
}

// selfWriter answers each read with one Write and notes what it left
// queued.
type selfWriter struct {
	protocol.Base
	queued chan int
}

func (s *selfWriter) DataReceived(d []byte) {
	s.Transport.Write(d)
	c := s.Transport.(*econn)
	c.mu.Lock()
	q := c.queued
	c.mu.Unlock()
	s.queued <- q
}

// A callback's Write to its own connection, with nothing queued, goes out
// at once (an echo gains nothing by waiting for the end of the turn).
func TestOwnWriteGoesOutAtOnce(t *testing.T) {
	queued := make(chan int, 1)
	addr := oneLoopServer(t, protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &selfWriter{queued: queued} }))
	c := dialT(t, addr)
	if _, err := c.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	if q := <-queued; q != 0 {
		t.Fatalf("an echo's Write left %d bytes queued", q)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "ping\n" {
		t.Fatalf("read %q, %v", line, err)
	}
}
