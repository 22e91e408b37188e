package logging

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"sync"
)

// File is an append-only log file that Reopen swaps for a fresh open of
// its path (SIGUSR1, after logrotate moved it): each Write goes whole to
// the old file or the new one, never lost. The process log, the web
// access log and the traffic log all use it. "-" is standard output,
// which Reopen and Close leave alone.
type File struct {
	path string
	// stdio: standard output and error follow the file (a daemon's
	// process log, see Options.Stdio).
	stdio bool
	// opener, if set, opens the path in this process's place.
	opener Opener
	// mode is the permission a file this process creates gets.
	mode os.FileMode
	mu   sync.Mutex
	f    *os.File
}

// Opener opens a log file for appending in this process's place: with
// the rights it had before it switched users or went into a chroot (see
// process.Opener).
type Opener interface {
	OpenAppend(path string) (*os.File, error)
}

// ModeOpener is an Opener that also creates a file with a given mode
// (process.Opener is one): a log that names users is created 0640 by the
// opener too, not only by this process.
type ModeOpener interface {
	OpenAppendMode(path string, mode os.FileMode) (*os.File, error)
}

// OpenFile opens path for appending, creating it if need be.
func OpenFile(path string) (*File, error) {
	return OpenFileWith(path, nil)
}

// OpenFileWith opens path for appending as OpenFile does, through o when
// it is not nil, now and on every Reopen. A path o refuses is opened by
// this process itself.
func OpenFileWith(path string, o Opener) (*File, error) {
	return OpenFileMode(path, o, 0o644)
}

// OpenFileMode opens path as OpenFileWith does; a file this process
// creates gets mode, and one the opener hands over that allows more is
// narrowed to it where this process may (it owns the file).
func OpenFileMode(path string, o Opener, mode os.FileMode) (*File, error) {
	if path == "-" {
		return &File{path: path, f: os.Stdout}, nil
	}
	l := &File{path: path, opener: o, mode: mode.Perm()}
	f, err := l.open()
	if err != nil {
		return nil, err
	}
	l.f = f
	return l, nil
}

// open opens the file's path for appending: through the opener if there
// is one, else (or if it refuses) directly.
func (l *File) open() (*os.File, error) {
	if l.opener == nil {
		return openAppend(l.path, l.mode)
	}
	var f *os.File
	var err error
	if mo, ok := l.opener.(ModeOpener); ok && l.mode != 0o644 {
		f, err = mo.OpenAppendMode(l.path, l.mode)
	} else {
		f, err = l.opener.OpenAppend(l.path)
	}
	if err == nil {
		if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&^l.mode != 0 {
			_ = f.Chmod(fi.Mode().Perm() & l.mode) // best effort: only the owner may
		}
		return f, nil
	}
	f, derr := openAppend(l.path, l.mode)
	if derr != nil {
		return nil, fmt.Errorf("%w (and %v)", derr, err)
	}
	return f, nil
}

// openStdioFile opens the process log of a daemon, pointing standard
// output and error at it.
func openStdioFile(path string, o Opener) (*File, error) {
	l, err := OpenFileWith(path, o)
	if err != nil || path == "-" {
		return l, err
	}
	l.stdio = true
	if err := l.redirect(l.f); err != nil {
		l.f.Close()
		return nil, err
	}
	return l, nil
}

func openAppend(path string, mode os.FileMode) (*os.File, error) {
	if mode == 0 {
		mode = 0o644
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, mode)
}

func (l *File) redirect(f *os.File) error {
	if !l.stdio {
		return nil
	}
	if err := redirectStdio(f); err != nil {
		return fmt.Errorf("point standard output and error at %s: %w", l.path, err)
	}
	return nil
}

// Write writes p with one write(2).
func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

// Sync flushes the file to disk.
func (l *File) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Sync()
}

// Reopen opens the path anew and closes the old file. A daemon's process
// log points standard output and error at the new file first; if that
// fails the log is reopened all the same, and the error says what did not.
func (l *File) Reopen() error {
	if l.path == "-" {
		return nil
	}
	f, err := l.open()
	if err != nil {
		return reopenError(l.path, err)
	}
	rerr := l.redirect(f)
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	if err := old.Close(); err != nil {
		return err
	}
	return rerr
}

// Close closes the file.
func (l *File) Close() error {
	if l.path == "-" {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// reopenError says why path could not be opened anew, that lines go on to
// the file it was moved to, and, when this process may not write the new
// file (logrotate created it for root after -u), what to configure.
func reopenError(path string, err error) error {
	if !errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("reopen %s: %w; still writing to the file it was moved to", path, err)
	}
	uid, gid := strconv.Itoa(os.Geteuid()), strconv.Itoa(os.Getegid())
	if u, err := user.LookupId(uid); err == nil {
		uid = u.Username
	}
	if g, err := user.LookupGroupId(gid); err == nil {
		gid = g.Name
	}
	return fmt.Errorf("reopen %s as user %s: %w; still writing to the file it was moved to: "+
		"have logrotate create the new file for this user (create 0640 %s %s) or use copytruncate", path, uid, err, uid, gid)
}
