package test

import (
	"os"
	"strings"
	"testing"
)

// With no syslog daemon to talk to, --syslog fails at start with a line
// that names the sockets it tried, and leaves nothing behind. (Where each
// level goes in syslog is checked in internal/logging against a socket
// the test listens on.)
func TestLogsSyslogMissingSocket(t *testing.T) {
	t.Parallel()
	for _, sock := range []string{"/dev/log", "/var/run/syslog"} {
		if _, err := os.Stat(sock); err == nil {
			t.Skipf("%s exists: a syslog daemon may be listening", sock)
		}
	}
	dir := t.TempDir()
	for _, args := range [][]string{
		{"-n", "--syslog", "echo", "--listen", "tcp:0:interface=127.0.0.1"},
		{"--syslog", "echo", "--listen", "tcp:0:interface=127.0.0.1"},
	} {
		r := twistd(t, dir, nil, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "syslog") || !strings.Contains(r.stderr, "/dev/log") {
			t.Fatalf("%v: exit %d, stderr %q; want 1 and an error naming /dev/log", args, r.code, r.stderr)
		}
		if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
			t.Fatalf("%v: want one line, got:\n%s", args, r.stderr)
		}
		if _, err := os.Stat(dir + "/twistd.pid"); !os.IsNotExist(err) {
			t.Fatalf("%v: pidfile left behind: %v", args, err)
		}
	}
}
