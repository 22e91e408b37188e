package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// After -u/-g into a user who cannot write the pidfile's directory,
// `twistd reload` still gets the daemon's real verdict (not a timeout),
// and `twistd stop` still stops it.
func TestReloadVerdictAfterDroppingPrivileges(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("switching users needs root")
	}
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil { // root's, readable, not writable by nobody
			t.Fatal(err)
		}
	}
	app := writeFile(t, dir, "app.yaml", "services:\n  - {type: echo, listen: 'tcp:0:interface=127.0.0.1'}\n")
	pid := daemon(t, dir, "-u", "nobody", "-g", "nogroup", "-c", app)
	r := twistd(t, dir, nil, "reload", "--timeout", "10s")
	if r.code != 0 || !strings.Contains(r.stdout, "reloaded") {
		t.Fatalf("reload after the switch: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	writeFile(t, dir, "app.yaml", "services:\n  - {type: echo, listen: 'tcp:0:interface=127.0.0.1', bogus: 1}\n")
	r = twistd(t, dir, nil, "reload", "--timeout", "10s")
	if r.code != 1 || !strings.Contains(r.stderr, `unknown key "bogus"`) {
		t.Fatalf("failed reload after the switch: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if r := twistd(t, dir, nil, "stop", "--timeout", "10s"); r.code != 0 || alive(pid) {
		t.Fatalf("stop: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
}
