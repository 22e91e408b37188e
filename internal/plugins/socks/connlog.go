package socks

import (
	"sync"

	"github.com/twistd-go/twistd/logfile"
)

// connLogMode is the connection log's mode when it is created: it names
// users and destinations, not for every local user to read.
const connLogMode = 0o640

// connLog is the --log file (log:): one line per answered request,
//
//	2026-12-03T12:00:00.000Z 127.0.0.1:51234 socks5 user=alice target=example.com:80 addr=93.184.216.34:80 reply=succeeded up=120 down=5120 duration=1.502s
//
// up counts bytes from the client to the target, down the other way.
// "-" is standard output. It is opened with plugin.Entry.OpenLogMode, so
// Reopen (SIGUSR1, logrotate) works after twistd dropped privileges. A
// nil *connLog logs nothing.
type connLog struct {
	f    *logfile.File
	once sync.Once
	err  error
}

// Reopen opens the file anew, closing the old one once the new is open.
func (l *connLog) Reopen() error {
	if l == nil {
		return nil
	}
	return l.f.Reopen()
}

// write appends one line (it ends in a newline) in one write(2). Write
// errors are dropped: a full disk must not stop the proxy.
func (l *connLog) write(line string) {
	if l == nil {
		return
	}
	_, _ = l.f.Write([]byte(line))
}

// Close closes the file (never standard output); later calls return the
// first's result.
func (l *connLog) Close() error {
	if l == nil {
		return nil
	}
	l.once.Do(func() { l.err = l.f.Close() })
	return l.err
}
