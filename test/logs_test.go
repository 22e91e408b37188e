package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestJSONLogLinesParse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := start(t, dir, nil, "-n", "--pidfile=", "--log-format", "json", "echo", "--listen", "tcp:0:interface=127.0.0.1")
	s.signal(syscall.SIGTERM)
	s.wait(10 * time.Second)
	objs := jsonLines(t, s.output())
	var listening bool
	for _, o := range objs {
		for _, k := range []string{"ts", "level", "msg"} {
			if _, ok := o[k]; !ok {
				t.Fatalf("log object lacks %q: %v", k, o)
			}
		}
		if strings.HasPrefix(o["msg"].(string), "listening on 127.0.0.1:") {
			listening = true
			if o["service"] != "echo" {
				t.Fatalf("listening line without service: %v", o)
			}
		}
	}
	if !listening {
		t.Fatal("no listening line")
	}
}

func TestConsoleLogFormat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := start(t, dir, nil, "-n", "--pidfile=", "echo", "--listen", "tcp:0:interface=127.0.0.1")
	line := s.waitFor("listening on", time.Second)
	// 2026-11-22T07:58:00.123Z  INFO  [echo]  listening on 127.0.0.1:41233
	if !regexpMatch(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z  INFO  \[echo\]  listening on 127\.0\.0\.1:\d+`, line) {
		t.Fatalf("console line has the wrong shape: %q", line)
	}
}

// Precedence: flag > TWISTD_* environment > process: section > default.
func TestSettingsPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := writeFile(t, dir, "app.yaml", `
process:
  log_format: json
  pidfile: ""
services:
  - type: echo
    listen: tcp:0:interface=127.0.0.1
`)
	isJSON := func(s *server) bool { return strings.HasPrefix(s.waitFor("ready", time.Second), "{") }

	s := start(t, dir, nil, "-n", "-c", app)
	if !isJSON(s) {
		t.Fatal("process: log_format json was not applied")
	}
	s = start(t, dir, []string{"TWISTD_LOG_FORMAT=console"}, "-n", "-c", app)
	if isJSON(s) {
		t.Fatal("TWISTD_LOG_FORMAT did not override the file")
	}
	s = start(t, dir, []string{"TWISTD_LOG_FORMAT=console"}, "-n", "--log-format", "json", "-c", app)
	if !isJSON(s) {
		t.Fatal("--log-format did not override the environment")
	}
	if _, err := os.Stat(filepath.Join(dir, "twistd.pid")); !os.IsNotExist(err) {
		t.Fatal(`process: pidfile: "" did not disable the pidfile`)
	}
}

func TestSIGUSR1ReopensLogWithLogrotate(t *testing.T) {
	t.Parallel()
	logrotate, err := exec.LookPath("logrotate")
	if err != nil {
		logrotate = "/usr/sbin/logrotate"
		if _, err := os.Stat(logrotate); err != nil {
			t.Fatal("logrotate is not installed (.ci/run installs it)")
		}
	}
	dir := t.TempDir()
	logfile := filepath.Join(dir, "twistd.log")
	pid := daemon(t, dir, "--logfile", logfile, "echo", "--listen", "tcp:0:interface=127.0.0.1")
	addr := logAddr(t, logfile)

	conf := writeFile(t, dir, "logrotate.conf", logfile+` {
    rotate 2
    missingok
    postrotate
        kill -USR1 `+itoa(pid)+`
    endscript
}
`)
	out, err := exec.Command(logrotate, "-f", "-s", filepath.Join(dir, "state"), conf).CombinedOutput()
	if err != nil {
		t.Fatalf("logrotate: %v\n%s", err, out)
	}
	eventually(t, 5*time.Second, "a new log file", func() bool {
		b, err := os.ReadFile(logfile)
		return err == nil && strings.Contains(string(b), "logs reopened")
	})
	old, err := os.ReadFile(logfile + ".1")
	if err != nil {
		t.Fatalf("rotated file: %v", err)
	}
	if !strings.Contains(string(old), "listening on") {
		t.Fatalf("rotated file lacks the start lines:\n%s", old)
	}
	echoRoundTrip(t, addr, []byte("after rotation"))
	// Later lines land in the new file.
	twistd(t, dir, nil, "stop")
	b, _ := os.ReadFile(logfile)
	if !strings.Contains(string(b), "shutdown complete") {
		t.Fatalf("new log file lacks the shutdown line:\n%s", b)
	}
	if strings.Contains(string(old), "shutdown complete") {
		t.Fatal("the rotated file got lines after the reopen")
	}
}

func TestLogSizeRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logfile := filepath.Join(dir, "twistd.log")
	backups := func() []string {
		m, _ := filepath.Glob(filepath.Join(dir, "twistd-*.log"))
		return m
	}
	// Each run finds a log already past --log-max-size 1 (MiB), so its
	// first line rotates it away; only 2 rotated files may stay.
	for i := 1; i <= 4; i++ {
		writeFile(t, dir, "twistd.log", strings.Repeat("x", 1100<<10))
		s := startNoWait(t, dir, nil, "-n", "--pidfile=", "--logfile", logfile, "--log-max-size", "1", "--log-max-backups", "2",
			"echo", "--listen", "tcp:0:interface=127.0.0.1")
		eventually(t, 5*time.Second, "ready in the log file", func() bool {
			b, _ := os.ReadFile(logfile)
			return strings.Contains(string(b), "ready")
		})
		s.signal(syscall.SIGTERM)
		s.wait(10 * time.Second)
		b, _ := os.ReadFile(logfile)
		if len(b) > 100<<10 || !strings.Contains(string(b), "shutdown complete") {
			t.Fatalf("run %d: log file was not rotated (%d bytes)", i, len(b))
		}
		eventually(t, 5*time.Second, "old files pruned to 2", func() bool {
			n := len(backups())
			return n == min(i, 2)
		})
	}
}
