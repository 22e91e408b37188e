package httpconn

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

func TestShutdownUnderLoadAnswersEveryRequest(t *testing.T) {
	for round := 0; round < 20; round++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := New(&http.Server{Handler: http.HandlerFunc(hello)})
		// Busy clients, however slowly a loaded machine runs them: one
		// idle past the linger would be closed at once by design.
		s.linger = time.Hour
		serveNet(t, ln, s.Factory())
		addr := ln.Addr().String()
		var wg, warm sync.WaitGroup
		errs := make(chan error, 64)
		stop := make(chan struct{})
		for i := 0; i < 16; i++ {
			wg.Add(1)
			warm.Add(1)
			go func() {
				defer wg.Done()
				first := true
				answered := func() {
					if first {
						first = false
						warm.Done()
					}
				}
				defer answered()
				nc, err := net.Dial("tcp", addr)
				if err != nil {
					errs <- err
					return
				}
				defer nc.Close()
				br := bufio.NewReader(nc)
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					path := fmt.Sprintf("/r%d", n)
					if _, err := io.WriteString(nc, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
						errs <- err
						return
					}
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						errs <- fmt.Errorf("request %d: %v", n, err)
						return
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || string(b) != "GET "+path+" 0" {
						errs <- fmt.Errorf("request %d: %d %q", n, resp.StatusCode, b)
						return
					}
					answered()
					if resp.Close {
						return
					}
				}
			}()
		}
		// Every client is served before the stop: one that connects
		// after it is refused, as it should be.
		warm.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		close(stop)
		wg.Wait()
		ln.Close()
		close(errs)
		for err := range errs {
			t.Errorf("round %d: %v", round, err)
		}
	}
}

// A connection lingering after a response when the stop begins is
// answered once more, with Connection: close (its client may be sending
// that request now); one that sends nothing closes when the grace ends.
func TestShutdownAnswersALingeringConnectionOnce(t *testing.T) {
	s, addr := startWith(t, &http.Server{Handler: http.HandlerFunc(hello)}, func(s *Server) { s.linger = time.Hour })
	busy, busyR := dial(t, addr)
	_, _ = io.WriteString(busy, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	readResponse(t, busyR, "GET")
	silent, silentR := dial(t, addr)
	_, _ = io.WriteString(silent, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	readResponse(t, silentR, "GET")

	began := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- s.Shutdown(context.Background()) }()
	eventually(t, "the stop", func() bool { return s.stopping.Load() })
	_, _ = io.WriteString(busy, "GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, body := readResponse(t, busyR, "GET"); body != "GET /again 0" || !resp.Close {
		t.Fatalf("next request on a lingering connection: %q, close %v", body, resp.Close)
	}
	if _, err := busyR.ReadByte(); err != io.EOF {
		t.Fatalf("lingering connection after its last request: %v", err)
	}
	if _, err := silentR.ReadByte(); err != io.EOF {
		t.Fatalf("silent connection: %v", err)
	}
	if waited := time.Since(began); waited < stopGrace/2 {
		t.Fatalf("silent connection closed after %v, before the grace of %v", waited, stopGrace)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}
