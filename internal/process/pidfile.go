// Package process turns the program into a well-behaved Unix daemon:
// detaching with a readiness pipe back to the parent, the locked pidfile,
// and chroot, setgid and setuid after binding.
package process

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrRunning is wrapped by errors about a live daemon holding the pidfile.
var ErrRunning = errors.New("another twistd is running")

// Pidfile is a pidfile locked (flock) for the daemon's whole life. A
// pidfile whose lock is free is stale, whatever pid it holds.
//
// The pid is written in place rather than by rename, because the lock
// lives on the file itself: a rename would let a second daemon lock a new
// file while the first still holds the old one.
type Pidfile struct {
	path string
	f    *os.File
	dir  *dirHandle
}

// dirHandle is a file's directory, opened before chroot so the file can
// be removed at exit even from inside the jail. The switch to another
// user still decides: the kernel checks the right to write the directory
// at the removal.
type dirHandle struct {
	d    *os.File // nil if the directory could not be opened
	name string
	path string
	// opener, if set, removes the file where this process may not.
	opener *Opener
}

// removeThrough lets o remove the file where the directory no longer
// lets this process do it (after a switch of user).
func (h *dirHandle) removeThrough(o *Opener) error {
	if err := o.AllowRemove(h.path); err != nil {
		return err
	}
	h.opener = o
	return nil
}

func openDir(path string) *dirHandle {
	h := &dirHandle{name: filepath.Base(path), path: path}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		h.d = d
	}
	return h
}

// remove removes the file (a missing one is no error) and closes the directory.
func (h *dirHandle) remove() error {
	var err error
	if h.d != nil {
		err = unix.Unlinkat(int(h.d.Fd()), h.name, 0)
		h.d.Close()
	} else {
		err = os.Remove(h.path)
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if errors.Is(err, os.ErrPermission) && h.opener != nil {
		err = h.opener.Remove(h.path)
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", h.path, err)
	}
	return nil
}

// AcquirePidfile locks path and writes the current pid into it. If a live
// daemon holds it, the error wraps ErrRunning and names its pid. A stale
// pid is replaced; stale reports the pid it held (0 if none).
func AcquirePidfile(path string) (p *Pidfile, stale int, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, 0, fmt.Errorf("pidfile: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		pid, _ := readPid(f)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, 0, fmt.Errorf("%w (pid %d, pidfile %s)", ErrRunning, pid, path)
		}
		return nil, 0, fmt.Errorf("pidfile %s: lock: %w", path, err)
	}
	stale, _ = readPid(f)
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("pidfile %s: %w", path, err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("pidfile %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("pidfile %s: %w", path, err)
	}
	return &Pidfile{path: path, f: f, dir: openDir(path)}, stale, nil
}

// Path returns the pidfile's path.
func (p *Pidfile) Path() string { return p.path }

// RemoveThrough has o remove the pidfile at Release if this process may
// no longer write its directory by then.
func (p *Pidfile) RemoveThrough(o *Opener) error { return p.dir.removeThrough(o) }

// Release removes the pidfile (after a chroot too, and after a switch to
// a user who may not write the directory when RemoveThrough was called)
// and lets go of the lock.
func (p *Pidfile) Release() error {
	err := p.dir.remove()
	p.f.Close()
	return err
}

func readPid(f *os.File) (int, error) {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 64))
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return 0, nil
	}
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pidfile holds %q, not a pid", s)
	}
	return pid, nil
}

// Status is what a pidfile says about its daemon.
type Status int

// The pidfile states, with the LSB exit codes of `status`.
const (
	Running    Status = 0
	Stale      Status = 1
	NotRunning Status = 3
)

// Check reads the pidfile at path without touching it: Running with the
// pid when its lock is held, Stale when the file exists but nobody holds
// the lock, NotRunning when there is no file.
func Check(path string) (Status, int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return NotRunning, 0, nil
	}
	if err != nil {
		return NotRunning, 0, fmt.Errorf("pidfile: %w", err)
	}
	defer f.Close()
	pid, _ := readPid(f)
	// A shared lock taken and dropped at once tells whether a daemon holds
	// the exclusive one, without ever blocking it.
	err = unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return Running, pid, nil
	}
	if err != nil {
		return NotRunning, 0, fmt.Errorf("pidfile %s: lock: %w", path, err)
	}
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return Stale, pid, nil
}

// Exited reports whether pid is gone (or, where the system tells, a
// zombie nobody reaped yet).
func Exited(pid int) bool {
	return unix.Kill(pid, 0) != nil || zombie(pid)
}
