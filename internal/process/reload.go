package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ReloadStatus is a daemon's verdict on its last reload, kept beside its
// pidfile (PIDFILE.reload) so `twistd reload` can wait for it without an
// admin endpoint.
type ReloadStatus struct {
	PID    int       `json:"pid"`
	Seq    int       `json:"seq"` // 1 for the first reload, then counting
	Time   time.Time `json:"time"`
	Result string    `json:"result"` // "ok" or "failed"
	Error  string    `json:"error,omitempty"`
}

// ReloadStatusPath is where the verdict for a pidfile is kept.
func ReloadStatusPath(pidfile string) string { return pidfile + ".reload" }

// WriteReloadStatus replaces the verdict atomically (temp file, fsync,
// rename), so a reader never sees half of it.
func WriteReloadStatus(pidfile string, st ReloadStatus) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	path := ReloadStatusPath(pidfile)
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("reload status: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("reload status: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("reload status: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("reload status: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("reload status: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}

// ReadReloadStatus reads the verdict; a missing file gives the zero value.
func ReadReloadStatus(pidfile string) (ReloadStatus, error) {
	var st ReloadStatus
	b, err := os.ReadFile(ReloadStatusPath(pidfile))
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	err = json.Unmarshal(b, &st)
	return st, err
}

// RemoveReloadStatus removes the verdict when the daemon exits.
func RemoveReloadStatus(pidfile string) {
	_ = os.Remove(ReloadStatusPath(pidfile))
}
