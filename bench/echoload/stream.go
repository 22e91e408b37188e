package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// drainPoll is how often a stream reader, after the end, checks whether
// its writer has stopped and the whole echo is back.
const drainPoll = 50 * time.Millisecond

// stream opens cfg.Conns connections; on each, one goroutine writes
// cfg.Size-byte chunks until cfg.Duration is up while another reads the
// echo. MB/s counts the bytes received before the end; afterwards each
// connection must get back every byte it sent within cfg.Timeout. Only the
// count is checked, not the bytes (ping-pong checks those), so the client
// spends its time reading.
func stream(cfg config) (*result, error) {
	var errs errorCounts
	conns, notTried := dialAll(cfg.Addr, cfg.Conns, cfg.Dialers, cfg.MaxFail, message(64), cfg.Timeout, &errs)
	if len(conns) == 0 {
		res := &result{NotTried: notTried}
		res.finish(cfg, 0, nil, &errs)
		return res, nil
	}
	chunk := message(cfg.Size)
	start := time.Now()
	end := start.Add(cfg.Duration)
	var (
		measured atomic.Uint64
		wg       sync.WaitGroup
	)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := streamConn(c, chunk, end, cfg.Timeout)
			measured.Add(n)
			if err != nil {
				errs.addErr(err)
			}
		}()
	}
	wg.Wait()
	closeAll(conns)
	res := &result{Open: len(conns), NotTried: notTried, Bytes: measured.Load()}
	res.finish(cfg, cfg.Duration, nil, &errs)
	return res, nil
}

// streamConn writes chunk on c until end while reading the echo, then
// waits up to timeout for the rest of it. It returns the bytes received
// before end and the connection's first error.
func streamConn(c net.Conn, chunk []byte, end time.Time, timeout time.Duration) (uint64, error) {
	var (
		sent    atomic.Uint64
		werr    error
		written = make(chan struct{})
	)
	go func() {
		defer close(written)
		if err := c.SetWriteDeadline(end.Add(timeout)); err != nil {
			werr = err
			return
		}
		for time.Now().Before(end) {
			n, err := c.Write(chunk)
			sent.Add(uint64(n))
			if err != nil {
				werr = err
				return
			}
		}
	}()
	buf := make([]byte, max(len(chunk), 64<<10))
	var got, measured uint64
	readErr := func() error {
		// Until end, a deadline at end wakes the reader on time; after it,
		// short deadlines let it notice the writer has stopped.
		if err := c.SetReadDeadline(end); err != nil {
			return err
		}
		for {
			n, err := c.Read(buf)
			now := time.Now()
			got += uint64(n)
			if now.Before(end) {
				measured += uint64(n)
			}
			// The echo of a write can arrive before the write returns and
			// counts as sent, so got and sent compare only once the writer
			// has stopped.
			select {
			case <-written:
				if s := sent.Load(); got == s {
					return nil
				} else if got > s {
					return fmt.Errorf("received %d bytes, sent %d: %w", got, s, errMismatch)
				}
			default:
			}
			if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				return err
			}
			if now.After(end.Add(timeout)) {
				return fmt.Errorf("%d of %d bytes echoed: %w", got, sent.Load(), os.ErrDeadlineExceeded)
			}
			if !now.Before(end) {
				if err := c.SetReadDeadline(now.Add(drainPoll)); err != nil {
					return err
				}
			}
		}
	}()
	<-written
	if werr != nil {
		return measured, werr
	}
	return measured, readErr
}
