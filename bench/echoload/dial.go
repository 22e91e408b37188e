package main

import (
	"bytes"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// message returns an n-byte message, printable and ending in a newline so
// that a line-oriented server echoes it too.
func message(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	if n > 0 {
		b[n-1] = '\n'
	}
	return b
}

// roundTrip sends msg and reads the echo into buf (len(msg) bytes), and
// checks it. It allocates nothing, so it can run once per message.
func roundTrip(c net.Conn, msg, buf []byte) error {
	if _, err := c.Write(msg); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, buf[:len(msg)]); err != nil {
		return err
	}
	if !bytes.Equal(buf[:len(msg)], msg) {
		return errMismatch
	}
	return nil
}

// verify does one round trip on c within timeout, then clears the deadline.
func verify(c net.Conn, msg, buf []byte, timeout time.Duration) error {
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if err := roundTrip(c, msg, buf); err != nil {
		return err
	}
	return c.SetDeadline(time.Time{})
}

// dialAll opens n connections to addr, at most inflight at a time, and
// verifies each with one round trip of msg before it counts as open.
// Waiting for the echo, not just the handshake, bounds the connections the
// server has yet to accept, so a ramp of thousands never overflows its
// listen backlog (a dropped SYN costs a one-second retransmit). Failures
// are counted in errs; once maxFail have failed (0: never) the rest are
// not tried, since a server out of file descriptors would otherwise cost a
// timeout per connection. It returns the connections that work and how
// many were not tried.
func dialAll(addr string, n, inflight, maxFail int, msg []byte, timeout time.Duration, errs *errorCounts) ([]net.Conn, int) {
	if inflight < 1 {
		inflight = 1
	}
	if inflight > n {
		inflight = n
	}
	conns := make([]net.Conn, n)
	var next, tried atomic.Int64
	var wg sync.WaitGroup
	d := net.Dialer{Timeout: timeout}
	for w := 0; w < inflight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, len(msg))
			for {
				i := int(next.Add(1) - 1)
				if i >= n || maxFail > 0 && errs.total() >= int64(maxFail) {
					return
				}
				tried.Add(1)
				c, err := d.Dial("tcp", addr)
				if err != nil {
					errs.add(kindDial, err)
					continue
				}
				if err := verify(c, msg, buf, timeout); err != nil {
					errs.addErr(err)
					c.Close()
					continue
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	open := conns[:0]
	for _, c := range conns {
		if c != nil {
			open = append(open, c)
		}
	}
	return open, n - int(tried.Load())
}

// closeAll closes every connection in cs.
func closeAll(cs []net.Conn) {
	for _, c := range cs {
		c.Close()
	}
}
