package process

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// DaemonState is what a daemon tells the commands that control it
// through the file it keeps beside its pidfile (PIDFILE.state): whether it
// is stopping, for `twistd stop`, and its reload verdicts, for `twistd
// reload`, so neither needs an admin endpoint.
type DaemonState struct {
	PID int `json:"pid"`
	// Stopping: a stop signal arrived and the daemon is draining.
	Stopping bool `json:"stopping,omitempty"`
	// Reloads counts the reloads done; LastReload is the verdict on the
	// last one.
	Reloads    int     `json:"reloads"`
	LastReload *Reload `json:"last_reload,omitempty"`
	// Upgrades counts the binary upgrades tried; LastUpgrade is the
	// verdict on the last one, for `twistd upgrade`.
	Upgrades    int      `json:"upgrades,omitempty"`
	LastUpgrade *Upgrade `json:"last_upgrade,omitempty"`
}

// Upgrade is the verdict on one binary upgrade: Result "ok" with the
// successor's PID, or "failed" with its Error.
type Upgrade struct {
	Time   time.Time `json:"time"`
	Result string    `json:"result"`
	PID    int       `json:"pid,omitempty"`
	Error  string    `json:"error,omitempty"`
}

// Reload is the verdict on one reload.
type Reload struct {
	Time   time.Time `json:"time"`
	Result string    `json:"result"` // "ok" or "failed"
	Error  string    `json:"error,omitempty"`
}

// StatePath is where the state of a pidfile's daemon is kept.
func StatePath(pidfile string) string { return pidfile + ".state" }

// StateFile is a daemon's open state file. It is opened before
// privileges drop and chroot, and written in place through the open
// descriptor, so it keeps working whatever the daemon may do afterwards in
// the pidfile's directory.
type StateFile struct {
	mu   sync.Mutex
	f    *os.File
	dir  *dirHandle
	size int64
}

// CreateState creates (or empties) the state file of pidfile, readable by
// everyone as the pidfile is.
func CreateState(pidfile string) (*StateFile, error) {
	f, err := os.OpenFile(StatePath(pidfile), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("state file: %w", err)
	}
	_ = f.Chmod(0o644) // whatever the umask
	return &StateFile{f: f, dir: openDir(StatePath(pidfile))}, nil
}

// Write replaces the state. The new text is written over the old one,
// padded with spaces to the old length, then the file is cut to the new
// length: a reader sees the old state or the new one (or, in the instant
// between, the new one padded, still valid JSON), never an empty file.
func (s *StateFile) Write(st DaemonState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	n := int64(len(b))
	if pad := s.size - n; pad > 0 {
		b = append(b, bytes.Repeat([]byte{' '}, int(pad))...)
	}
	if _, err := s.f.WriteAt(b, 0); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if err := s.f.Truncate(n); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	s.size = n
	return nil
}

// RemoveThrough has o remove the state file at Remove if this process
// may no longer write its directory by then.
func (s *StateFile) RemoveThrough(o *Opener) error { return s.dir.removeThrough(o) }

// Remove deletes the state file where the directory still allows it
// (after a switch to a user who cannot write there, only if RemoveThrough
// was called: otherwise the next start empties it) and closes it.
func (s *StateFile) Remove() {
	_ = s.dir.remove()
	_ = s.f.Close()
}

// ReadState reads the state of pidfile's daemon; a missing file gives the
// zero value.
func ReadState(pidfile string) (DaemonState, error) {
	var st DaemonState
	b, err := os.ReadFile(StatePath(pidfile))
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return st, nil
	}
	err = json.Unmarshal(b, &st)
	return st, err
}
