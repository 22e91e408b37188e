package process

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The environment of a process started by an upgrade, besides the
// sockets (see the reactor's UpgradeFDsEnv): upgradeEnv marks it, the
// readiness pipe is on readyFDEnv's descriptor as for a daemon, and the
// standard error to restore once ready on upgradeStderrEnv's.
const (
	upgradeEnv       = "_TWISTD_UPGRADE"
	upgradeStderrEnv = "_TWISTD_UPGRADE_STDERR"
)

// OldbinSuffix is added to the pidfile's name while an upgrade's two
// processes run (nginx's convention): PIDFILE.oldbin names the old one.
const OldbinSuffix = ".oldbin"

// maxOutput bounds what is kept of a failed successor's messages.
const maxOutput = 16 << 10

// IsUpgrade reports whether this process was started by an upgrade:
// it neither daemonizes (it is detached already) nor binds what its
// predecessor passed down.
func IsUpgrade() bool { return os.Getenv(upgradeEnv) == "1" }

// UpgradeNotifier is the readiness pipe to the predecessor of a process
// started by an upgrade. Ready puts the real standard error back.
func UpgradeNotifier() *Notifier {
	n := &Notifier{}
	take := func(env string) *os.File {
		fd, err := strconv.Atoi(os.Getenv(env))
		os.Unsetenv(env)
		if err != nil || fd < 3 {
			return nil
		}
		unix.CloseOnExec(fd)
		return os.NewFile(uintptr(fd), env)
	}
	n.f = take(readyFDEnv)
	n.stderr = take(upgradeStderrEnv)
	os.Unsetenv(upgradeEnv)
	return n
}

// Successor is the new process an upgrade starts.
type Successor struct {
	// Binary is the program to run, with Args (without the program's
	// name) in Dir.
	Binary string
	Args   []string
	Dir    string
	// Sockets are passed on descriptors 3 onwards; FDsEnv and NamesEnv
	// are the variables that count and name them.
	Sockets          []*os.File
	FDsEnv, NamesEnv string
	Names            []string
	// Setsid puts the successor in a session of its own (a daemon's).
	Setsid bool
	// Timeout bounds the wait for it to be ready.
	Timeout time.Duration
}

// Start starts the successor and waits until it reports ready, and
// returns its pid; or, when it fails, exits, or is not ready within the
// timeout (it is then killed), an error with what it said.
func (s Successor) Start() (int, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("upgrade: %w", err)
	}
	defer r.Close()
	// What the successor writes on standard error until it is ready: a
	// file, not a pipe, so that nothing it starts meanwhile and that
	// keeps the descriptor can ever block on it or die of a broken pipe.
	capture, err := os.CreateTemp("", "twistd-upgrade-*.stderr")
	if err != nil {
		w.Close()
		return 0, fmt.Errorf("upgrade: %w", err)
	}
	os.Remove(capture.Name())
	defer capture.Close()

	n := len(s.Sockets)
	env := []string{}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "_GO_DAEMON", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
			readyFDEnv, upgradeEnv, upgradeStderrEnv, s.FDsEnv, s.NamesEnv:
			continue // the successor is not the process these were for
		}
		env = append(env, kv)
	}
	env = append(env, upgradeEnv+"=1",
		s.FDsEnv+"="+strconv.Itoa(n), s.NamesEnv+"="+strings.Join(s.Names, ":"),
		readyFDEnv+"="+strconv.Itoa(3+n), upgradeStderrEnv+"="+strconv.Itoa(4+n))
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		w.Close()
		return 0, fmt.Errorf("upgrade: %w", err)
	}
	defer devnull.Close()
	cmd := exec.Command(s.Binary, s.Args...)
	cmd.Dir = s.Dir
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, os.Stdout, capture
	cmd.ExtraFiles = append(append([]*os.File{}, s.Sockets...), w, os.Stderr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: s.Setsid}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return 0, fmt.Errorf("cannot start the new binary: %w", err)
	}
	pid := cmd.Process.Pid

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // reaps it whenever it exits
	verdict := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(r, maxOutput))
		verdict <- strings.TrimSuffix(string(b), "\n")
	}()
	timer := time.NewTimer(s.Timeout)
	defer timer.Stop()
	var msg string
	select {
	case msg = <-verdict:
	case <-timer.C:
		stop(cmd.Process, exited)
		return 0, fmt.Errorf("the new binary (pid %d) was not ready within %s; it was killed%s", pid, s.Timeout, output(capture, ""))
	}
	status, detail, _ := strings.Cut(msg, "\n")
	if status == "ok" {
		return pid, nil
	}
	// It failed: wait for it to exit, so that it has let go of the
	// pidfile and said what it had to say.
	var werr error
	select {
	case werr = <-exited:
	case <-time.After(5 * time.Second):
		stop(cmd.Process, exited)
	}
	if status == "error" {
		return 0, fmt.Errorf("the new binary failed to start: %s%s", detail, output(capture, detail))
	}
	how := "no status"
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		how = ee.ProcessState.String() // "exit status 1", "signal: killed"
	}
	return 0, fmt.Errorf("the new binary (pid %d) exited (%s) before it was ready%s", pid, how, output(capture, ""))
}

// stop ends a successor that will not be: SIGTERM, SIGKILL after 2s.
func stop(p *os.Process, exited <-chan error) {
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(2 * time.Second):
		_ = p.Kill()
		select {
		case <-exited:
		case <-time.After(2 * time.Second):
		}
	}
}

// output is what the successor wrote on standard error, its last
// maxOutput bytes, as lines to append to an error; lines already in
// known are left out.
func output(f *os.File, known string) string {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil || size == 0 {
		return ""
	}
	off := max(0, size-maxOutput)
	b := make([]byte, size-off)
	if _, err := f.ReadAt(b, off); err != nil && err != io.EOF {
		return ""
	}
	var out []string
	for _, line := range strings.Split(string(bytes.TrimSpace(b)), "\n") {
		if line = strings.TrimRight(line, "\r"); line != "" && !strings.Contains(known, line) {
			out = append(out, "  "+line)
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "; it said:\n" + strings.Join(out, "\n")
}

// Rename moves the pidfile to path, keeping its lock (nginx's .oldbin
// while an upgrade's successor starts, and back if it fails). It is
// removed from its new place at Release.
func (p *Pidfile) Rename(path string) error {
	if err := os.Rename(p.path, path); err != nil {
		return fmt.Errorf("pidfile: %w", err)
	}
	p.path = path
	p.dir.rename(path)
	return nil
}

// Rename moves the state file to that of pidfile.
func (s *StateFile) Rename(pidfile string) error {
	path := StatePath(pidfile)
	if err := os.Rename(s.dir.path, path); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	s.dir.rename(path)
	return nil
}

func (h *dirHandle) rename(path string) {
	h.path, h.name = path, filepath.Base(path)
}

// Needed returns c, or nil when the process runs as c already: a
// successor started by an upgrade after the switch of user has nothing
// to switch (and, not root, could not).
func (c *Credentials) Needed() *Credentials {
	if c == nil || os.Geteuid() == 0 {
		return c
	}
	if os.Getuid() == c.UID && os.Getgid() == c.GID {
		return nil
	}
	return c
}
