package test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const nobodyUID, nogroupGID = 65534, 65534

// Size rotation after -u into a user who cannot write the log's
// directory would lose lines: start refuses, naming the flag, the
// directory and the user.
func TestPrivilegesSizeRotationRefusedWhereTheUserCannotWrite(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("switching users needs root")
	}
	dir := rootDir(t)
	logs := filepath.Join(dir, "logs")
	os.Mkdir(logs, 0o755) // root's
	for _, fg := range []bool{false, true} {
		args := []string{"--logfile", filepath.Join(logs, "twistd.log"), "--log-max-size", "1", "-u", "nobody", "-g", "nogroup",
			"echo", "--listen", "tcp:0:interface=127.0.0.1"}
		if fg {
			args = append([]string{"-n", "--pidfile="}, args...)
		}
		r := twistd(t, dir, nil, args...)
		if r.code != 1 {
			t.Fatalf("foreground %v: exit %d, want 1: %q", fg, r.code, r.stderr)
		}
		for _, want := range []string{"--log-max-size", logs, `"nobody"`} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("foreground %v: the error lacks %q: %q", fg, want, r.stderr)
			}
		}
	}
	r := twistd(t, dir, nil, "-n", "--pidfile=", "--chroot", dir, "--logfile", filepath.Join(logs, "twistd.log"),
		"--log-max-size", "1", "echo", "--listen", "tcp:0:interface=127.0.0.1")
	if r.code != 1 || !strings.Contains(r.stderr, "--log-max-size") || !strings.Contains(r.stderr, "--chroot") {
		t.Fatalf("with --chroot: exit %d, %q", r.code, r.stderr)
	}
}

// In a directory the user may write, rotation after -u works, even when
// the log was root's: twistd gives its log file to the user before the
// drop. When rotating fails all the same later on (the directory was
// taken away), lines go on to the current file and the failure is said
// once.
func TestPrivilegesSizeRotationAfterDrop(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("switching users needs root")
	}
	dir := rootDir(t)
	logs := filepath.Join(dir, "logs")
	os.Mkdir(logs, 0o755)
	if err := os.Chown(logs, nobodyUID, nogroupGID); err != nil {
		t.Fatal(err)
	}
	logfile := filepath.Join(logs, "twistd.log")
	// Past 1 MiB: the first line rotates it away.
	writeFile(t, logs, "twistd.log", strings.Repeat("x", 1100<<10))
	s := startNoWait(t, dir, nil, "-n", "--pidfile=", "--logfile", logfile, "--log-max-size", "1", "-u", "nobody", "-g", "nogroup",
		"echo", "--listen", "tcp:0:interface=127.0.0.1")
	eventually(t, 10*time.Second, "ready in the log file", func() bool {
		b, _ := os.ReadFile(logfile)
		return strings.Contains(string(b), "ready")
	})
	if b, _ := os.ReadFile(logfile); len(b) > 100<<10 || !strings.Contains(string(b), "twistd starting") {
		t.Fatalf("not rotated: %d bytes", len(b))
	}
	if m, _ := filepath.Glob(filepath.Join(logs, "twistd-*.log")); len(m) != 1 {
		t.Fatalf("rotated files: %v", m)
	}

	// grow puts the file past the size. lumberjack counts what it wrote
	// itself: SIGUSR1 makes it look at the file again, and the lines about
	// the signal then need a rotation.
	grow := func() {
		t.Helper()
		f, err := os.OpenFile(logfile, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(strings.Repeat("y", 1100<<10) + "\n")
		f.Close()
		s.signal(syscall.SIGUSR1)
	}
	// Now as nobody, rotating the file root had.
	grow()
	eventually(t, 10*time.Second, "a rotation as nobody", func() bool {
		m, _ := filepath.Glob(filepath.Join(logs, "twistd-*.log"))
		b, _ := os.ReadFile(logfile)
		return len(m) == 2 && len(b) < 100<<10 && strings.Contains(string(b), "logs reopened")
	})

	// Take the directory away: rotation fails, and every line still
	// lands in the file.
	if err := os.Chown(logs, 0, 0); err != nil {
		t.Fatal(err)
	}
	grow()
	eventually(t, 10*time.Second, "the rotation failure in the log file", func() bool {
		b, _ := os.ReadFile(logfile)
		return strings.Contains(string(b), "cannot rotate the log file")
	})
	s.signal(syscall.SIGTERM)
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	b, _ := os.ReadFile(logfile)
	log := string(b)
	for _, want := range []string{"received signal; reopening logs", "logs reopened", "SIGTERM", "shutdown complete"} {
		if !strings.Contains(log, want) {
			t.Errorf("lost the line %q", want)
		}
	}
	if n := strings.Count(log, "cannot rotate the log file"); n != 1 {
		t.Errorf("the failure is said %d times, want once", n)
	}
}
