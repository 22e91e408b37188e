package client_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twistd-go/twistd/client"
	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/reactor"
	"github.com/twistd-go/twistd/service"
)

// bothDrivers runs test under each driver of this build, with the Env of
// a service running on it.
func bothDrivers(t *testing.T, test func(t *testing.T, env *service.Env)) {
	for _, name := range reactor.Names() {
		t.Run(name, func(t *testing.T) {
			env, stop := runReactor(name)
			t.Cleanup(stop)
			test(t, env)
		})
	}
}

// recorder is the test's Factory: it notes when attempts fail and
// connections end, and its protocols keep their transport.
type recorder struct {
	failed chan time.Time
	lost   chan error
}

func newRecorder() *recorder {
	return &recorder{failed: make(chan time.Time, 64), lost: make(chan error, 64)}
}

func (r *recorder) BuildProtocol(net.Addr) protocol.Protocol { return &protocol.Base{} }
func (r *recorder) ClientConnectionFailed(error)             { r.failed <- time.Now() }
func (r *recorder) ClientConnectionLost(err error)           { r.lost <- err }

// freePort returns a loopback port nobody listens on (for now).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func within[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("no %s within %v", what, d)
		panic("unreachable")
	}
}

// accepts accepts connections on ln into the returned channel.
func accepts(t *testing.T, ln net.Listener) <-chan net.Conn {
	ch := make(chan net.Conn, 8)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			ch <- c
		}
	}()
	return ch
}

// A server that is down, then up, then drops the connection: the service
// retries with growing waits, connects once it is up, reconnects after a
// drop, and its connection carries data both ways.
func TestServiceReconnects(t *testing.T) {
	bothDrivers(t, func(t *testing.T, env *service.Env) {
		port := freePort(t)
		rec := newRecorder()
		s := &client.Service{
			Endpoint: endpoint.Client{Kind: endpoint.TCP, Host: "127.0.0.1", Port: port},
			Factory:  rec,
			Backoff:  client.Backoff{Initial: 50 * time.Millisecond, Factor: 2, Jitter: -1, Max: 2 * time.Second},
		}
		ctx := context.Background()
		if err := s.Start(ctx, env); err != nil {
			t.Fatal(err)
		}
		// Down: attempts at about 0, 50, 150, 350 ms.
		var at []time.Time
		for range 4 {
			at = append(at, within(t, rec.failed, 5*time.Second, "failed attempt"))
		}
		for i, want := range []time.Duration{50, 100, 200} {
			want *= time.Millisecond
			if gap := at[i+1].Sub(at[i]); gap < want || gap > want+time.Second {
				t.Errorf("wait %d was %v, want %v", i+1, gap, want)
			}
		}
		// Up: connected within the longest wait.
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Skipf("port %d was taken meanwhile: %v", port, err)
		}
		up := time.Now()
		conns := accepts(t, ln)
		c := within(t, conns, 5*time.Second, "connection")
		if took := time.Since(up); took > 800*time.Millisecond+time.Second {
			t.Errorf("connected %v after the server came up", took)
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		p, err := s.WhenConnected(wctx)
		if err != nil {
			t.Fatal(err)
		}
		p.(*protocol.Base).Transport.Write([]byte("hello\n"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if line, err := bufio.NewReader(c).ReadString('\n'); line != "hello\n" {
			t.Fatalf("server read %q, %v", line, err)
		}
		// Dropped: the backoff starts over, from Initial.
		c.Close()
		dropped := time.Now()
		within(t, rec.lost, 5*time.Second, "lost connection")
		c = within(t, conns, 5*time.Second, "reconnection")
		if took := time.Since(dropped); took < 50*time.Millisecond || took > 50*time.Millisecond+500*time.Millisecond {
			t.Errorf("reconnected %v after the drop, want about 50ms", took)
		}
		p2, err := s.WhenConnected(wctx)
		if err != nil || p2 == p {
			t.Fatalf("WhenConnected after the reconnection: %p, %v (before: %p)", p2, err, p)
		}
		// Stop closes the connection cleanly.
		sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
		defer scancel()
		if err := s.Stop(sctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
			t.Errorf("server side after Stop: %d bytes, %v; want EOF", n, err)
		}
		if _, err := s.WhenConnected(ctx); !errors.Is(err, client.ErrStopped) {
			t.Errorf("WhenConnected after Stop: %v, want ErrStopped", err)
		}
		select {
		case <-rec.failed:
			t.Error("an attempt after Stop")
		default:
		}
	})
}

// Stop during a long wait returns at once, and no attempt follows.
func TestServiceStopDuringPendingRetry(t *testing.T) {
	bothDrivers(t, func(t *testing.T, env *service.Env) {
		port := freePort(t)
		rec := newRecorder()
		s := &client.Service{
			Endpoint: endpoint.Client{Kind: endpoint.TCP, Host: "127.0.0.1", Port: port},
			Factory:  rec,
			Backoff:  client.Backoff{Initial: time.Hour},
		}
		if err := s.Start(context.Background(), env); err != nil {
			t.Fatal(err)
		}
		within(t, rec.failed, 5*time.Second, "failed attempt")
		waiting := make(chan error, 1)
		go func() {
			_, err := s.WhenConnected(context.Background())
			waiting <- err
		}()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		if err := s.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if took := time.Since(start); took > 500*time.Millisecond {
			t.Errorf("Stop took %v", took)
		}
		if err := within(t, waiting, 5*time.Second, "WhenConnected return"); !errors.Is(err, client.ErrStopped) {
			t.Errorf("WhenConnected: %v, want ErrStopped", err)
		}
	})
}

// Stop during an attempt that hangs (a TLS server that never answers)
// gives it up.
func TestServiceStopDuringAttempt(t *testing.T) {
	bothDrivers(t, func(t *testing.T, env *service.Env) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conns := accepts(t, ln)
		rec := newRecorder()
		s := &client.Service{
			Endpoint: endpoint.Client{Kind: endpoint.SSL, Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port},
			Factory:  rec,
		}
		if err := s.Start(context.Background(), env); err != nil {
			t.Fatal(err)
		}
		within(t, conns, 5*time.Second, "connection") // the handshake now waits
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		within(t, rec.failed, time.Second, "the given-up attempt") // reported to the factory
	})
}

// After MaxRetries failures in a row the service reports itself failed.
func TestServiceGivesUp(t *testing.T) {
	bothDrivers(t, func(t *testing.T, env *service.Env) {
		failures := make(chan error, 1)
		own := *env
		own.OnFail = func(err error) { failures <- err }
		s := &client.Service{
			Endpoint:   endpoint.Client{Kind: endpoint.TCP, Host: "127.0.0.1", Port: freePort(t)},
			Factory:    newRecorder(),
			Backoff:    client.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond},
			MaxRetries: 2,
		}
		if err := s.Start(context.Background(), &own); err != nil {
			t.Fatal(err)
		}
		err := within(t, failures, 5*time.Second, "Fail")
		if !strings.Contains(err.Error(), "gave up after 3 attempts") || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("Fail(%v)", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, werr := s.WhenConnected(ctx); werr == nil || werr.Error() != err.Error() {
			t.Errorf("WhenConnected after giving up: %v, want %v", werr, err)
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
}

func TestServiceMisconfigured(t *testing.T) {
	env := &service.Env{}
	if err := (&client.Service{Factory: newRecorder()}).Start(context.Background(), env); err == nil {
		t.Error("Start without an Endpoint succeeded")
	}
	ep := endpoint.Client{Kind: endpoint.TCP, Host: "127.0.0.1", Port: 1}
	if err := (&client.Service{Endpoint: ep}).Start(context.Background(), env); err == nil {
		t.Error("Start without a Factory succeeded")
	}
	if err := (&client.Service{Endpoint: ep, Factory: newRecorder()}).Start(context.Background(), env); err == nil {
		t.Error("Start without a Runner succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	s := &client.Service{Endpoint: ep, Factory: newRecorder()}
	if _, err := s.WhenConnected(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WhenConnected before Start: %v, want the context's deadline", err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Errorf("Stop before Start: %v", err)
	}
}
