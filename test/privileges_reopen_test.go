package test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SIGUSR1 after logrotate moved the log away and created a new one that
// only root may write (create 0600 root root), while the daemon runs as
// nobody: no line is lost, they go on to the moved file, and that file
// says why and what to configure. With or without size rotation.
func TestPrivilegesReopenOfARootLogAfterDrop(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("switching users needs root")
	}
	for _, tt := range []struct {
		name  string
		flags []string
	}{
		{name: "plain"},
		{name: "with size rotation", flags: []string{"--log-max-size", "100"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := rootDir(t)
			logs := filepath.Join(dir, "logs")
			os.Mkdir(logs, 0o755)
			if tt.flags != nil {
				os.Chown(logs, nobodyUID, nogroupGID) // rotation needs it
			}
			logfile := filepath.Join(logs, "twistd.log")
			args := append([]string{"--logfile", logfile, "-u", "nobody", "-g", "nogroup"}, tt.flags...)
			pid := daemon(t, dir, append(args, "echo", "--listen", "tcp:0:interface=127.0.0.1")...)
			addr := logAddr(t, logfile)

			moved := logfile + ".1"
			if err := os.Rename(logfile, moved); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(logfile, nil, 0o600); err != nil { // root's
				t.Fatal(err)
			}
			syscall.Kill(pid, syscall.SIGUSR1)
			eventually(t, 10*time.Second, "the failed reopen in the moved file", func() bool {
				b, _ := os.ReadFile(moved)
				return strings.Contains(string(b), "reopening logs failed")
			})
			b, _ := os.ReadFile(moved)
			for _, want := range []string{logfile, "permission denied", "nobody", "create 0640 nobody nogroup"} {
				if !strings.Contains(string(b), want) {
					t.Errorf("the failure does not say %q:\n%s", want, b)
				}
			}
			echoRoundTrip(t, addr, []byte("still serving"))
			if r := twistd(t, dir, nil, "stop", "--timeout", "10s"); r.code != 0 {
				t.Fatalf("stop: exit %d, %q", r.code, r.stderr)
			}
			if b, _ := os.ReadFile(moved); !strings.Contains(string(b), "shutdown complete") {
				t.Fatalf("later lines are lost:\n%s", b)
			}
		})
	}
}
