package policy

import (
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/twistd-go/twistd/internal/logging"
)

// trafficLog writes one line per closed connection:
//
//	2026-11-22T08:00:00.123Z 127.0.0.1:51234 duration=1.502s in=5120 out=901234
//
// to a file it opened (traffic_log:), which it reopens and closes, or to
// a writer from code (TrafficLog), which it only writes.
type trafficLog struct {
	f *logging.File // nil for a writer from code

	mu sync.Mutex
	w  io.Writer
}

func openTrafficLog(path string) (*trafficLog, error) {
	f, err := logging.OpenFile(path)
	if err != nil {
		return nil, fmt.Errorf("traffic_log: %w", err)
	}
	return &trafficLog{f: f, w: f}, nil
}

func (t *trafficLog) record(peer net.Addr, began time.Time, in, out int64) {
	now := time.Now()
	line := fmt.Sprintf("%s %v duration=%s in=%d out=%d\n", now.UTC().Format("2006-01-02T15:04:05.000Z"),
		peer, now.Sub(began).Round(time.Millisecond), in, out)
	t.mu.Lock()
	_, _ = t.w.Write([]byte(line))
	t.mu.Unlock()
}

func (t *trafficLog) reopen() error {
	if t.f == nil {
		return nil
	}
	if err := t.f.Reopen(); err != nil {
		return fmt.Errorf("traffic_log: %w", err)
	}
	return nil
}

func (t *trafficLog) close() error {
	if t.f == nil {
		return nil
	}
	return t.f.Close()
}
