// Package logfile opens a service's own append-only log file (an access
// log, a query log) that survives logrotate: the service reopens it from
// its service.Reopener method, which twistd calls on SIGUSR1.
//
// Open the file when the service is made (its maker's New), not when it
// starts: makers run before twistd drops privileges (--uid, --gid,
// --chroot), so a log under /var/log can still be opened, and `twistd
// check` reports an unwritable path like any other configuration error.
package logfile

import (
	"os"

	"github.com/twistd-go/twistd/internal/logging"
)

// File is an append-only log file. Each Write goes whole, in one
// write(2), to the file the path named at the last Open or Reopen, so
// concurrent writers of whole lines never interleave and no line is lost
// across a rotation. The path "-" is standard output, which Reopen and
// Close leave alone. A File is safe for concurrent use.
type File struct{ f *logging.File }

// Open opens path for appending, creating it (mode 0644) if need be.
func Open(path string) (*File, error) {
	f, err := logging.OpenFile(path)
	if err != nil {
		return nil, err
	}
	return &File{f: f}, nil
}

// Opener opens a log file for appending in the process's place: twistd's
// root opener, which after --uid, --gid or --chroot still opens the log
// files named at start (plugin.Entry.OpenLog uses it).
type Opener interface {
	OpenAppend(path string) (*os.File, error)
}

// OpenWith opens path as Open does, through o (unless it is nil) now and
// at every Reopen; a path o refuses is opened by the process itself.
func OpenWith(path string, o Opener) (*File, error) {
	f, err := logging.OpenFileWith(path, o)
	if err != nil {
		return nil, err
	}
	return &File{f: f}, nil
}

// OpenWithMode opens path as OpenWith does; a file it creates gets mode
// (0640 for a log that names users or destinations), and one the opener
// hands over with wider permissions is narrowed to mode where the process
// owns it.
func OpenWithMode(path string, o Opener, mode os.FileMode) (*File, error) {
	f, err := logging.OpenFileMode(path, o, mode)
	if err != nil {
		return nil, err
	}
	return &File{f: f}, nil
}

// Write writes p with one write(2).
func (f *File) Write(p []byte) (int, error) { return f.f.Write(p) }

// Sync flushes the file to disk.
func (f *File) Sync() error { return f.f.Sync() }

// Reopen opens the path anew and closes the old file: call it from the
// service's Reopen method. If the path cannot be opened, writes go on to
// the old file and the error says so.
func (f *File) Reopen() error { return f.f.Reopen() }

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }
