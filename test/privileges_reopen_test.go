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
// nobody: the new file is opened all the same (by the opener kept from
// before the switch, as nginx's root master does) and the lines go on
// there.
func TestPrivilegesReopenOfARootLogAfterDrop(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("switching users needs root")
	}
	dir := rootDir(t)
	logs := filepath.Join(dir, "logs")
	os.Mkdir(logs, 0o755)
	logfile := filepath.Join(logs, "twistd.log")
	pid := daemon(t, dir, "--logfile", logfile, "-u", "nobody", "-g", "nogroup",
		"echo", "--listen", "tcp:0:interface=127.0.0.1")
	addr := logAddr(t, logfile)

	moved := logfile + ".1"
	if err := os.Rename(logfile, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logfile, nil, 0o600); err != nil { // root's
		t.Fatal(err)
	}
	syscall.Kill(pid, syscall.SIGUSR1)
	eventually(t, 10*time.Second, "the reopened log in the new file", func() bool {
		b, _ := os.ReadFile(logfile)
		return strings.Contains(string(b), "logs reopened")
	})
	if b, _ := os.ReadFile(moved); strings.Contains(string(b), "reopening logs failed") {
		t.Fatalf("the reopen failed:\n%s", b)
	}
	echoRoundTrip(t, addr, []byte("still serving"))
	if r := twistd(t, dir, nil, "stop", "--timeout", "10s"); r.code != 0 {
		t.Fatalf("stop: exit %d, %q", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(logfile); !strings.Contains(string(b), "shutdown complete") {
		t.Fatalf("later lines are not in the new file:\n%s", b)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(logfile, &st); err != nil || st.Uid != 0 || st.Mode&0o777 != 0o600 {
		t.Fatalf("the new file is no longer root's 0600: uid %d mode %o (%v)", st.Uid, st.Mode&0o777, err)
	}
}

// With size rotation the log is the user's to rotate, so a root-owned
// new file cannot be taken over: no line is lost, they go on to the moved
// file, and that file says why and what to configure.
func TestPrivilegesReopenOfARootLogWithRotation(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("switching users needs root")
	}
	dir := rootDir(t)
	logs := filepath.Join(dir, "logs")
	os.Mkdir(logs, 0o755)
	os.Chown(logs, nobodyUID, nogroupGID) // rotation needs it
	logfile := filepath.Join(logs, "twistd.log")
	pid := daemon(t, dir, "--logfile", logfile, "-u", "nobody", "-g", "nogroup", "--log-max-size", "100",
		"echo", "--listen", "tcp:0:interface=127.0.0.1")
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
}

// SIGUSR1 in a chroot: the log is named by its path on the host, outside
// the jail, and the reopen finds it there, not at that path in the jail.
func TestChrootReopenFindsTheLogOnTheHost(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("chroot needs root")
	}
	dir := rootDir(t)
	os.MkdirAll(filepath.Join(dir, "jail"), 0o755)
	logfile := filepath.Join(dir, "twistd.log")
	pid := daemon(t, dir, "--chroot", "jail", "-u", "nobody", "-g", "nogroup",
		"echo", "--listen", "tcp:0:interface=127.0.0.1")
	addr := logAddr(t, logfile)
	moved := logfile + ".1"
	if err := os.Rename(logfile, moved); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(pid, syscall.SIGUSR1)
	eventually(t, 10*time.Second, "the reopened log at its host path", func() bool {
		b, _ := os.ReadFile(logfile)
		return strings.Contains(string(b), "logs reopened")
	})
	echoRoundTrip(t, addr, []byte("still serving"))
	if r := twistd(t, dir, nil, "stop", "--timeout", "10s"); r.code != 0 {
		t.Fatalf("stop: exit %d, %q", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(logfile); !strings.Contains(string(b), "shutdown complete") {
		t.Fatalf("later lines are not in the reopened file:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "jail", logfile)); err == nil {
		t.Fatalf("the reopen created the log inside the jail")
	}
}

// A connection log that names users (socks) is created 0640, and so is
// the new one SIGUSR1 opens after logrotate moved it away, when the daemon
// runs as nobody and the root opener creates it.
func TestPrivilegesReopenedSocksLogKeepsItsMode(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("switching users needs root")
	}
	dir := rootDir(t)
	logs := filepath.Join(dir, "logs")
	os.Mkdir(logs, 0o755)
	logfile, socksLog := filepath.Join(logs, "twistd.log"), filepath.Join(logs, "socks.log")
	// With a umask that lets 0640 through (a daemon's default 0077
	// makes every file 0600).
	pid := daemon(t, dir, "--logfile", logfile, "-u", "nobody", "-g", "nogroup", "--umask", "0022",
		"socks", "-p", "tcp:0:interface=127.0.0.1", "--log", socksLog)
	mode := func() os.FileMode {
		t.Helper()
		fi, err := os.Stat(socksLog)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	if m := mode(); m != 0o640 {
		t.Fatalf("socks log created %o, want 640", m)
	}
	if err := os.Rename(socksLog, socksLog+".1"); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(pid, syscall.SIGUSR1)
	eventually(t, 10*time.Second, "the socks log opened again", func() bool {
		_, err := os.Stat(socksLog)
		return err == nil
	})
	if m := mode(); m != 0o640 {
		t.Fatalf("socks log created again %o by the reopen, want 640", m)
	}
	if r := twistd(t, dir, nil, "stop", "--timeout", "10s"); r.code != 0 {
		t.Fatalf("stop: exit %d, %q", r.code, r.stderr)
	}
}
