package main

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// idle opens cfg.Conns connections, each verified with one round trip,
// announces "holding N connections" on out (a script then reads the
// server's memory), leaves them idle for cfg.Hold, checks each again
// with one more round trip — the server must not have dropped any — and
// closes them.
func idle(cfg config, out io.Writer) (*result, error) {
	var errs errorCounts
	msg := message(cfg.Size)
	start := time.Now()
	conns, notTried := dialAll(cfg.Addr, cfg.Conns, cfg.Dialers, cfg.MaxFail, msg, cfg.Timeout, &errs)
	fmt.Fprintf(out, "holding %d connections (opened in %.1fs)\n", len(conns), time.Since(start).Seconds())
	held := time.Now()
	time.Sleep(cfg.Hold)
	elapsed := time.Since(held)

	var (
		next, ok atomic.Int64
		wg       sync.WaitGroup
	)
	for w := 0; w < min(cfg.Dialers, len(conns)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, len(msg))
			for {
				i := int(next.Add(1) - 1)
				if i >= len(conns) {
					return
				}
				if err := verify(conns[i], msg, buf, cfg.Timeout); err != nil {
					errs.addErr(fmt.Errorf("after holding: %w", err))
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	closeAll(conns)
	res := &result{Open: int(ok.Load()), NotTried: notTried}
	res.finish(cfg, elapsed, nil, &errs)
	return res, nil
}
