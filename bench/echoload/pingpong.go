package main

import (
	"net"
	"sync"
	"time"
)

// pingpong opens cfg.Conns connections, then each sends a cfg.Size-byte
// message and waits for its whole echo, again and again for cfg.Duration.
// The round trip in flight at the end is finished (within cfg.Timeout) and
// counted; msgs/s is over the time until the last one came back.
func pingpong(cfg config) (*result, error) {
	var errs errorCounts
	msg := message(cfg.Size)
	conns, notTried := dialAll(cfg.Addr, cfg.Conns, cfg.Dialers, cfg.MaxFail, msg, cfg.Timeout, &errs)
	if len(conns) == 0 {
		res := &result{NotTried: notTried}
		res.finish(cfg, 0, nil, &errs)
		return res, nil
	}
	var (
		msgs    uint64
		h       hist
		elapsed time.Duration
		err     error
	)
	if cfg.Engine == "epoll" {
		msgs, elapsed, err = pingpongEpoll(conns, cfg, msg, &h, &errs)
	} else {
		msgs, elapsed = pingpongGoroutines(conns, cfg, msg, &h, &errs)
	}
	closeAll(conns)
	if err != nil {
		return nil, err
	}
	res := &result{Engine: cfg.Engine, Open: len(conns), NotTried: notTried, Messages: msgs, Bytes: msgs * uint64(cfg.Size)}
	res.finish(cfg, elapsed, &h, &errs)
	return res, nil
}

// pingpongGoroutines drives each connection from its own goroutine with
// blocking reads and writes, each with its own histogram.
func pingpongGoroutines(conns []net.Conn, cfg config, msg []byte, total *hist, errs *errorCounts) (uint64, time.Duration) {
	start := time.Now()
	end := start.Add(cfg.Duration)
	var (
		mu   sync.Mutex
		msgs uint64
		wg   sync.WaitGroup
	)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := new(hist)
			n, err := pingpongConn(c, msg, h, end, end.Add(cfg.Timeout))
			if err != nil {
				errs.addErr(err)
			}
			mu.Lock()
			msgs += n
			total.add(h)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return msgs, time.Since(start)
}

// pingpongConn does round trips on c until end, recording each in h; the
// connection's deadline is the end plus the grace for the last echo.
func pingpongConn(c net.Conn, msg []byte, h *hist, end, deadline time.Time) (uint64, error) {
	if err := c.SetDeadline(deadline); err != nil {
		return 0, err
	}
	buf := make([]byte, len(msg))
	var n uint64
	for {
		t0 := time.Now()
		if !t0.Before(end) {
			return n, nil
		}
		if err := roundTrip(c, msg, buf); err != nil {
			return n, err
		}
		h.record(time.Since(t0))
		n++
	}
}
