package test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stdioTarget is the file a process's descriptor fd names.
func stdioTarget(t *testing.T, pid, fd int) string {
	t.Helper()
	target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd))
	if err != nil {
		t.Fatal(err)
	}
	return target
}

// A daemon's standard output and error are its log file, the current one:
// after logrotate moved the log away and SIGUSR1 reopened it, what goes to
// fd 1 (an access log "-") or fd 2 (a panic) lands in the new file, and
// nothing keeps the moved file open.
func TestLogsStdioFollowReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "public/index.html", "hello\n")
	app := writeFile(t, dir, "app.yaml", `
services:
  - name: site
    type: web
    listen: tcp:0:interface=127.0.0.1
    path: ./public
    access_log: "-"
`)
	logfile := filepath.Join(dir, "twistd.log")
	pid := daemon(t, dir, "--logfile", logfile, "-c", app)
	addr := logAddr(t, logfile)
	for fd := 1; fd <= 2; fd++ {
		if got := stdioTarget(t, pid, fd); got != logfile {
			t.Fatalf("fd %d is %s, want the log file %s", fd, got, logfile)
		}
	}

	if err := os.Rename(logfile, logfile+".1"); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(pid, syscall.SIGUSR1)
	eventually(t, 5*time.Second, "logs reopened in a new file", func() bool {
		b, err := os.ReadFile(logfile)
		return err == nil && strings.Contains(string(b), "logs reopened")
	})
	for fd := 1; fd <= 2; fd++ {
		if got := stdioTarget(t, pid, fd); got != logfile {
			t.Fatalf("after SIGUSR1 fd %d is %s, want the new log file %s", fd, got, logfile)
		}
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	eventually(t, 5*time.Second, "the access line in the new log file", func() bool {
		b, _ := os.ReadFile(logfile)
		return strings.Contains(string(b), `"GET / HTTP/1.1" 200`)
	})
	if b, _ := os.ReadFile(logfile + ".1"); strings.Contains(string(b), `"GET / HTTP/1.1"`) {
		t.Fatalf("the access line went to the moved file:\n%s", b)
	}
	twistd(t, dir, nil, "stop")
}

// A size rotation moves the log away too: fd 1 and 2 follow to the new file.
func TestLogsStdioFollowSizeRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logfile := filepath.Join(dir, "twistd.log")
	// Already past --log-max-size 1 (MiB): the first line rotates it.
	writeFile(t, dir, "twistd.log", strings.Repeat("x", 1100<<10))
	pid := daemon(t, dir, "--logfile", logfile, "--log-max-size", "1", "echo", "--listen", "tcp:0:interface=127.0.0.1")
	for fd := 1; fd <= 2; fd++ {
		if got := stdioTarget(t, pid, fd); got != logfile {
			t.Fatalf("fd %d is %s, want the log file %s after its rotation", fd, got, logfile)
		}
	}
	twistd(t, dir, nil, "stop")
}
