package policy

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twistd-go/twistd/internal/config"
)

type counters struct {
	refused        atomic.Int64
	opened, closed atomic.Int64
	received, sent atomic.Int64
	lastReason     atomic.Value
}

func (c *counters) Refused(reason string) { c.refused.Add(1); c.lastReason.Store(reason) }
func (c *counters) ConnectionOpened()     { c.opened.Add(1) }
func (c *counters) ConnectionClosed()     { c.closed.Add(1) }
func (c *counters) Received(n int)        { c.received.Add(int64(n)) }
func (c *counters) Sent(n int)            { c.sent.Add(int64(n)) }

// echoServer serves an echo over a policy-wrapped listener.
func echoServer(t *testing.T, cfg Config) (string, *counters, *Policy) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cnt := &counters{}
	p, err := New(cfg, nil, cnt)
	if err != nil {
		t.Fatal(err)
	}
	wl := p.WrapListener(ln)
	t.Cleanup(func() { wl.Close(); p.Close() })
	go func() {
		for {
			c, err := wl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String(), cnt, p
}

func TestListenerPerPeerLimit(t *testing.T) {
	addr, cnt, _ := echoServer(t, Config{MaxConnectionsPerPeer: 2})
	var conns []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		roundTrip(t, c)
		conns = append(conns, c)
	}
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); err == nil {
		t.Fatal("third connection from one peer was served")
	}
	if cnt.refused.Load() != 1 || cnt.lastReason.Load() != ReasonMaxConnectionsPerPeer {
		t.Fatalf("refused %d (%v)", cnt.refused.Load(), cnt.lastReason.Load())
	}
	for _, c := range conns {
		roundTrip(t, c)
	}
	// Closing one frees its place.
	conns[0].Close()
	waitUntil(t, func() bool { return cnt.closed.Load() == 1 })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip(t, c)
}

func TestListenerIdleTimeout(t *testing.T) {
	addr, _, _ := echoServer(t, Config{IdleTimeout: 200 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip(t, c)
	begin := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read data from an idle connection")
	}
	if d := time.Since(begin); d < 150*time.Millisecond || d > 3*time.Second {
		t.Fatalf("closed after %v, idle_timeout 200ms", d)
	}
}

func TestListenerTrafficLogAndReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "traffic.log")
	addr, cnt, p := echoServer(t, Config{TrafficLog: config.Path(path)})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c)
	c.Close()
	waitUntil(t, func() bool { b, _ := os.ReadFile(path); return strings.Contains(string(b), "in=5 out=5") })
	if cnt.received.Load() != 5 || cnt.sent.Load() != 5 || cnt.opened.Load() != 1 {
		t.Fatalf("counters: %d in, %d out, %d opened", cnt.received.Load(), cnt.sent.Load(), cnt.opened.Load())
	}
	os.Rename(path, path+".1")
	if err := p.Reopen(); err != nil {
		t.Fatal(err)
	}
	c, _ = net.Dial("tcp", addr)
	roundTrip(t, c)
	c.Close()
	waitUntil(t, func() bool { b, _ := os.ReadFile(path); return strings.Contains(string(b), "in=5 out=5") })
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{IdleTimeout: -1}, {MaxConnections: -1}, {MaxConnectionsPerPeer: -2}, {ReadLimit: -1}} {
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func roundTrip(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("echo: %q %v", buf, err)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
