package policy

import (
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// trafficLog writes one line per closed connection:
//
//	2026-11-22T08:00:00.123Z 127.0.0.1:51234 duration=1.502s in=5120 out=901234
type trafficLog struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

func openTrafficLog(path string) (*trafficLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("traffic_log: %w", err)
	}
	return &trafficLog{path: path, f: f}, nil
}

func (t *trafficLog) record(peer net.Addr, began time.Time, in, out int64) {
	now := time.Now()
	line := fmt.Sprintf("%s %v duration=%s in=%d out=%d\n", now.UTC().Format("2006-01-02T15:04:05.000Z"),
		peer, now.Sub(began).Round(time.Millisecond), in, out)
	t.mu.Lock()
	defer t.mu.Unlock()
	_, _ = t.f.WriteString(line)
}

func (t *trafficLog) reopen() error {
	f, err := os.OpenFile(t.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("traffic_log: %w", err)
	}
	t.mu.Lock()
	old := t.f
	t.f = f
	t.mu.Unlock()
	return old.Close()
}

func (t *trafficLog) close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.f.Close()
}
