package socks

import (
	"fmt"
	"os"
	"sync"
)

// connLog is the --log file (log:): one line per answered request,
//
//	2026-12-03T12:00:00.000Z 127.0.0.1:51234 socks5 user=alice target=example.com:80 addr=93.184.216.34:80 reply=succeeded up=120 down=5120 duration=1.502s
//
// up counts bytes from the client to the target, down the other way.
// "-" is standard output. Reopen reopens the file (SIGUSR1, logrotate).
type connLog struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

func openConnLog(path string) (*connLog, error) {
	l := &connLog{path: path}
	if err := l.Reopen(); err != nil {
		return nil, err
	}
	return l, nil
}

// Reopen opens the file anew, closing the old one once the new is open.
func (l *connLog) Reopen() error {
	if l == nil {
		return nil
	}
	if l.path == "-" {
		l.mu.Lock()
		l.f = os.Stdout
		l.mu.Unlock()
		return nil
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("log: %w", err)
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	return nil
}

// write appends one line (it ends in a newline). Write errors are
// dropped: a full disk must not stop the proxy.
func (l *connLog) write(line string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		_, _ = l.f.WriteString(line)
	}
}

// Close closes the file (never standard output).
func (l *connLog) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.f
	l.f = nil
	if f == nil || f == os.Stdout {
		return nil
	}
	return f.Close()
}
