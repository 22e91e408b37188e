package process

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	daemon "github.com/sevlyar/go-daemon"
	"golang.org/x/sys/unix"
)

// readyFDEnv names the environment variable that tells the daemon which
// inherited descriptor is the readiness pipe to its parent.
const readyFDEnv = "_TWISTD_READY_FD"

// ErrNotReady is returned to the parent when the daemon exited without
// saying whether it started.
var ErrNotReady = errors.New("the daemon exited before it was ready")

// Notifier is the daemon's end of the readiness pipe. The zero value (and a
// nil *Notifier) does nothing: a foreground process has no parent waiting.
type Notifier struct {
	f *os.File
	// stderr, when set, is the standard error to put back on descriptor
	// 2 once ready: an upgrade's predecessor reads what comes before.
	stderr *os.File
}

// Ready tells the parent that every service started; it exits 0.
func (n *Notifier) Ready() { n.send("ok") }

// Failed tells the parent why start failed; it prints err and exits 1.
func (n *Notifier) Failed(err error) {
	n.send("error\n" + err.Error())
}

func (n *Notifier) send(msg string) {
	if n == nil || n.f == nil {
		return
	}
	if n.stderr != nil && msg == "ok" {
		_ = unix.Dup2(int(n.stderr.Fd()), 2)
		n.stderr.Close()
		n.stderr = nil
	}
	fmt.Fprintln(n.f, msg)
	n.f.Close()
	n.f = nil
}

// IsDaemon reports whether this process is the detached child.
func IsDaemon() bool { return daemon.WasReborn() }

// Daemonize detaches with go-daemon (setsid; stdin from /dev/null; stdout
// and stderr to logFile, or /dev/null when it is empty or "-").
//
// In the parent it waits until the child reports and returns (nil, err):
// err is nil once the child is ready, the child's own error otherwise. In
// the child it returns the Notifier to report with. Chroot, credentials and
// the pidfile are deliberately not go-daemon's: they must come after
// binding, which only the child does.
func Daemonize(logFile string) (*Notifier, error) {
	ctx := &daemon.Context{LogFileName: logFile, LogFilePerm: 0o644}
	if logFile == "-" {
		ctx.LogFileName = ""
	}
	if daemon.WasReborn() {
		if _, err := ctx.Reborn(); err != nil {
			return nil, fmt.Errorf("daemonize: %w", err)
		}
		fd, err := strconv.Atoi(os.Getenv(readyFDEnv))
		os.Unsetenv(readyFDEnv)
		if err != nil {
			return &Notifier{}, nil
		}
		unix.CloseOnExec(fd)
		return &Notifier{f: os.NewFile(uintptr(fd), "ready")}, nil
	}

	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("daemonize: %w", err)
	}
	defer r.Close()
	// go-daemon passes only stdio to the child: hand the pipe down on a
	// descriptor above those, without close-on-exec.
	fd, err := unix.FcntlInt(w.Fd(), unix.F_DUPFD, 10)
	w.Close()
	if err != nil {
		return nil, fmt.Errorf("daemonize: %w", err)
	}
	os.Setenv(readyFDEnv, strconv.Itoa(fd))
	child, err := ctx.Reborn()
	unix.Close(fd)
	os.Unsetenv(readyFDEnv)
	if child != nil && errors.Is(err, unix.EPIPE) {
		// go-daemon writes a trailer after the context the child reads;
		// a child quick to put /dev/null on that pipe closes it first.
		// The child has what it needs: whether it started is what the
		// readiness pipe says.
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("daemonize: %w", err)
	}
	_ = child.Release()

	msg, _ := io.ReadAll(r)
	status, detail, _ := strings.Cut(strings.TrimSuffix(string(msg), "\n"), "\n")
	switch status {
	case "ok":
		return nil, nil
	case "error":
		return nil, errors.New(detail)
	}
	return nil, ErrNotReady
}
