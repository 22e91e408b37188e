package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// serve starts an in-process server on a loopback port 0, runs handle for
// each connection, and returns its address.
func serve(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return l.Addr().String()
}

func echo(c net.Conn) { _, _ = io.Copy(c, c) }

// afterFirst echoes the first verifying message, then hands over to then.
func afterFirst(size int, then func(net.Conn)) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, size)
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		if _, err := c.Write(buf); err != nil {
			return
		}
		then(c)
	}
}

var (
	closes = func(c net.Conn) { // reads one more message, then closes
		_, _ = c.Read(make([]byte, 64))
	}
	resets = func(c net.Conn) {
		_, _ = c.Read(make([]byte, 64))
		_ = c.(*net.TCPConn).SetLinger(0)
	}
	stalls  = func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }
	mangles = func(c net.Conn) {
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			buf[0] ^= 1
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
	}
)

func testConfig(mode, addr string) config {
	return config{
		Mode: mode, Addr: addr, Conns: 4, Size: 64,
		Duration: 200 * time.Millisecond, Hold: 100 * time.Millisecond, Timeout: 300 * time.Millisecond,
		Dialers: 2, MaxFail: 100, Engine: "epoll", Workers: 2,
	}
}

func TestPingpong(t *testing.T) {
	addr := serve(t, echo)
	for _, engine := range []string{"epoll", "goroutine"} {
		t.Run(engine, func(t *testing.T) {
			cfg := testConfig("pingpong", addr)
			cfg.Engine = engine
			cfg.Timeout = 5 * time.Second
			res, err := pingpong(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Errors != 0 || res.Open != cfg.Conns {
				t.Fatalf("errors %d (%v), open %d: want 0 and %d", res.Errors, res.firstErrs, res.Open, cfg.Conns)
			}
			if res.Messages == 0 || res.Bytes != res.Messages*uint64(cfg.Size) {
				t.Errorf("messages %d, bytes %d: want some, size each", res.Messages, res.Bytes)
			}
			if want := float64(res.Messages) / res.Seconds; res.MsgsPerSec != want {
				t.Errorf("msgs/s %v, want messages/seconds = %v", res.MsgsPerSec, want)
			}
			if res.Seconds < cfg.Duration.Seconds() || res.Seconds > (cfg.Duration+cfg.Timeout).Seconds() {
				t.Errorf("seconds %v outside [duration, duration+timeout]", res.Seconds)
			}
			if !(0 < res.P50us && res.P50us <= res.P99us && res.P99us <= res.MaxUs) {
				t.Errorf("latency p50 %v p99 %v max %v: want 0 < p50 <= p99 <= max", res.P50us, res.P99us, res.MaxUs)
			}
		})
	}
}

func TestPingpongCountsFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		handle func(net.Conn)
		kind   errKind
	}{
		{name: "closes", handle: afterFirst(64, closes), kind: kindShort},
		{name: "resets", handle: afterFirst(64, resets), kind: kindReset},
		{name: "stalls", handle: afterFirst(64, stalls), kind: kindTimeout},
		{name: "mangles", handle: afterFirst(64, mangles), kind: kindMismatch},
		{name: "never echoes", handle: stalls, kind: kindTimeout},
	} {
		for _, engine := range []string{"epoll", "goroutine"} {
			t.Run(tc.name+"/"+engine, func(t *testing.T) {
				cfg := testConfig("pingpong", serve(t, tc.handle))
				cfg.Engine = engine
				res, err := pingpong(cfg)
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]int64{tc.kind.String(): int64(cfg.Conns)}
				if res.Errors != int64(cfg.Conns) || !equalCounts(res.ErrorKinds, want) {
					t.Errorf("errors %d %v (%v), want %v", res.Errors, res.ErrorKinds, res.firstErrs, want)
				}
			})
		}
	}
}

func TestDialFailuresCount(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: every dial is refused
	res, err := pingpong(testConfig("pingpong", addr))
	if err != nil {
		t.Fatal(err)
	}
	if res.Open != 0 || res.ErrorKinds["dial"] != 4 {
		t.Errorf("open %d, errors %v: want 0 open and 4 dial errors", res.Open, res.ErrorKinds)
	}
}

func TestDialGivesUp(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := testConfig("idle", addr)
	cfg.Conns, cfg.MaxFail = 1000, 10
	res, err := idle(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors < 10 || res.Errors > 10+int64(cfg.Dialers) || res.NotTried != cfg.Conns-int(res.Errors) {
		t.Errorf("errors %d, not tried %d: want about 10 tried of %d, the rest not", res.Errors, res.NotTried, cfg.Conns)
	}
}

func TestStream(t *testing.T) {
	cfg := testConfig("stream", serve(t, echo))
	cfg.Conns, cfg.Size = 2, 256<<10
	cfg.Timeout = 5 * time.Second // megabytes in flight, on a busy machine
	res, err := stream(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Open != 2 {
		t.Fatalf("errors %d (%v), open %d", res.Errors, res.firstErrs, res.Open)
	}
	if res.Bytes == 0 || res.MBPerSec != float64(res.Bytes)/1e6/res.Seconds {
		t.Errorf("bytes %d, MB/s %v: want bytes/1e6/seconds", res.Bytes, res.MBPerSec)
	}
}

func TestStreamCountsFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		handle func(net.Conn)
		kind   errKind
	}{
		{name: "swallows", handle: afterFirst(64, stalls), kind: kindTimeout},
		{name: "resets", handle: afterFirst(64, resets), kind: kindReset},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig("stream", serve(t, tc.handle))
			cfg.Size = 4096
			res, err := stream(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Errors != int64(cfg.Conns) || res.ErrorKinds[tc.kind.String()] != int64(cfg.Conns) {
				t.Errorf("errors %d %v (%v), want %d %v", res.Errors, res.ErrorKinds, res.firstErrs, cfg.Conns, tc.kind)
			}
		})
	}
}

func TestIdle(t *testing.T) {
	cfg := testConfig("idle", serve(t, echo))
	cfg.Conns = 50
	cfg.Timeout = 5 * time.Second
	var out bytes.Buffer
	res, err := idle(cfg, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "holding 50 connections") {
		t.Errorf("output %q: want the holding line", out.String())
	}
	if res.Errors != 0 || res.Open != 50 || res.Seconds < cfg.Hold.Seconds() {
		t.Errorf("errors %d (%v), open %d, seconds %v", res.Errors, res.firstErrs, res.Open, res.Seconds)
	}
}

func TestIdleNoticesDroppedConnections(t *testing.T) {
	cfg := testConfig("idle", serve(t, afterFirst(64, func(net.Conn) {}))) // closes once verified
	cfg.Conns = 10
	res, err := idle(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Open != 0 || res.Errors != 10 {
		t.Errorf("open %d errors %d %v: want 0 and 10", res.Open, res.Errors, res.ErrorKinds)
	}
}

func TestRoundTripAllocatesNothing(t *testing.T) {
	c, err := net.Dial("tcp", serve(t, echo))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg, buf := message(64), make([]byte, 64)
	var h hist
	allocs := testing.AllocsPerRun(200, func() {
		t0 := time.Now()
		if err := roundTrip(c, msg, buf); err != nil {
			t.Fatal(err)
		}
		h.record(time.Since(t0))
	})
	if allocs != 0 {
		t.Errorf("%v allocations per round trip, want 0", allocs)
	}
}

func TestRun(t *testing.T) {
	good := serve(t, echo)
	bad := serve(t, afterFirst(64, closes))
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{name: "ok", args: []string{"-addr", good, "-duration", "100ms", "-conns", "2", "-json"}, code: exitOK},
		{name: "stream", args: []string{"-mode", "stream", "-addr", good, "-duration", "100ms", "-size", "4096", "-json"}, code: exitOK},
		{name: "idle", args: []string{"-mode", "idle", "-addr", good, "-hold", "10ms", "-conns", "20", "-json"}, code: exitOK},
		{name: "failed", args: []string{"-addr", bad, "-duration", "100ms", "-conns", "2", "-timeout", "300ms", "-json"}, code: exitFailed},
		{name: "bad mode", args: []string{"-mode", "flood"}, code: exitUsage},
		{name: "bad flag", args: []string{"-nope"}, code: exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(tc.args, &out, &errOut); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, errOut.String())
			}
			if tc.code == exitUsage {
				return
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			var res map[string]any
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
				t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
			}
			for _, k := range []string{"mode", "conns", "size", "msgs_per_sec", "mb_per_sec", "p50_us", "p99_us", "errors"} {
				if _, ok := res[k]; !ok {
					t.Errorf("JSON lacks %q: %s", k, lines[len(lines)-1])
				}
			}
			if failed := res["errors"].(float64) > 0; failed != (tc.code == exitFailed) {
				t.Errorf("errors %v with exit %d", res["errors"], tc.code)
			}
		})
	}
}

func equalCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
