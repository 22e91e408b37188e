package test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SIGQUIT asks for every goroutine's stack in the log, and nothing else:
// the daemon keeps serving, its pidfile stays, and it still stops cleanly.
func TestSignalsSIGQUITDumpsAndKeepsRunning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logfile := filepath.Join(dir, "twistd.log")
	pid := daemon(t, dir, "--logfile", logfile, "echo", "--listen", "tcp:0:interface=127.0.0.1")
	addr := logAddr(t, logfile)

	syscall.Kill(pid, syscall.SIGQUIT)
	eventually(t, 5*time.Second, "a goroutine dump in the log", func() bool {
		b, _ := os.ReadFile(logfile)
		return strings.Contains(string(b), "goroutine dump") && strings.Contains(string(b), "goroutine 1 [")
	})
	if !alive(pid) {
		t.Fatal("the daemon died of SIGQUIT")
	}
	echoRoundTrip(t, addr, []byte("after SIGQUIT\n"))
	if readPid(t, filepath.Join(dir, "twistd.pid")) != pid {
		t.Fatal("the pidfile no longer names the daemon")
	}
	if r := twistd(t, dir, nil, "stop"); r.code != 0 {
		t.Fatalf("stop: exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "twistd.pid")); !os.IsNotExist(err) {
		t.Fatalf("pidfile left behind: %v", err)
	}
	b, _ := os.ReadFile(logfile)
	if !strings.Contains(string(b), "shutdown complete") {
		t.Fatalf("no clean shutdown after the dump:\n%s", b)
	}
}

// In a JSON log the dump is one object like every other line, its stacks
// under "stacktrace".
func TestSignalsSIGQUITDumpInJSONLog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := start(t, dir, nil, "-n", "--pidfile=", "--log-format", "json", "echo", "--listen", "tcp:0:interface=127.0.0.1")
	s.signal(syscall.SIGQUIT)
	s.waitFor(`goroutine dump`, 5*time.Second)
	s.signal(syscall.SIGTERM)
	if code := s.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGQUIT and SIGTERM", code)
	}
	var dumped bool
	for _, o := range jsonLines(t, s.output()) {
		if strings.Contains(o["msg"].(string), "goroutine dump") {
			st, _ := o["stacktrace"].(string)
			dumped = strings.Contains(st, "goroutine 1 [") && o["signal"] == "SIGQUIT"
		}
	}
	if !dumped {
		t.Fatalf("no dump object with stacks and signal:\n%s", s.output())
	}
}
