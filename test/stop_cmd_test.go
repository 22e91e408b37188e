package test

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// A retried `twistd stop` while the daemon drains does not force it: it
// says the daemon is stopping already and waits; forcing is --force.
func TestStopDuringADrainDoesNotForce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := writeFile(t, dir, "app.yaml", `
process:
  shutdown_timeout: 60s
services:
  - {name: echo, type: echo, listen: 'tcp:0:interface=127.0.0.1'}
`)
	pid := daemon(t, dir, "-c", app)
	addr := logAddr(t, filepath.Join(dir, "twistd.log"))
	// An open connection keeps the drain going.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echoOn(t, c, "before")

	if r := twistd(t, dir, nil, "stop", "--timeout", "300ms"); r.code != 1 || !strings.Contains(r.stderr, "still running") {
		t.Fatalf("first stop: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	r := twistd(t, dir, nil, "stop", "--timeout", "300ms")
	if r.code != 1 || !strings.Contains(r.stdout, "already stopping") {
		t.Fatalf("retried stop: exit %d, %q %q; want 1 and a word that it is stopping already", r.code, r.stdout, r.stderr)
	}
	if !alive(pid) {
		t.Fatal("the retried stop forced the daemon")
	}
	echoOn(t, c, "still draining") // the connection was not cut

	r = twistd(t, dir, nil, "stop", "--force", "--timeout", "10s")
	if r.code != 0 || !strings.Contains(r.stdout, "stopped") {
		t.Fatalf("stop --force: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if alive(pid) {
		t.Fatal("still running after stop --force")
	}
}

// A pidfile that is not there is an error naming it, not "not running".
func TestStopWithAMissingPidfileFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := twistd(t, dir, nil, "stop", "--pidfile", "wrong/path.pid")
	if r.code == 0 || !strings.Contains(r.stderr, "wrong/path.pid") || !strings.Contains(r.stderr, "does not exist") {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
