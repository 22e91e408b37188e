package test

import (
	"os"
	"path/filepath"
	"testing"
)

// After --chroot the pidfile and its state file are still removed at
// exit: twistd keeps their directory open.
func TestChrootPidfileRemovedAtExit(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("chroot needs root")
	}
	dir := rootDir(t)
	os.Mkdir(filepath.Join(dir, "jail"), 0o755)
	daemon(t, dir, "--chroot", "jail", "echo", "--listen", "tcp:0:interface=127.0.0.1")
	if r := twistd(t, dir, nil, "stop", "--timeout", "10s"); r.code != 0 {
		t.Fatalf("stop: exit %d, %q", r.code, r.stderr)
	}
	for _, name := range []string{"twistd.pid", "twistd.pid.state"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s left behind after --chroot: %v", name, err)
		}
	}
	// The next start is clean either way.
	daemon(t, dir, "--chroot", "jail", "echo", "--listen", "tcp:0:interface=127.0.0.1")
	twistd(t, dir, nil, "stop", "--timeout", "10s")
}

// After -u into a user who may not write the pidfile's directory, the
// pidfile and its state file are removed at exit all the same (by the
// opener kept from before the switch).
func TestPrivilegesPidfileRemovedAfterDrop(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("switching users needs root")
	}
	dir := rootDir(t) // root's, not writable by nobody
	daemon(t, dir, "-u", "nobody", "-g", "nogroup", "echo", "--listen", "tcp:0:interface=127.0.0.1")
	if r := twistd(t, dir, nil, "stop", "--timeout", "10s"); r.code != 0 {
		t.Fatalf("stop: exit %d, %q", r.code, r.stderr)
	}
	for _, name := range []string{"twistd.pid", "twistd.pid.state"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s left behind after -u nobody: %v", name, err)
		}
	}
}
