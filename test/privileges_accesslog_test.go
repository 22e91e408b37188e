package test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// An access log in a directory only root may write is opened before
// -u/-g take that right away, and serves the daemon's whole life.
func TestPrivilegesAccessLogInRootDirectory(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("switching users needs root")
	}
	dir := rootDir(t)
	if err := os.Mkdir(filepath.Join(dir, "logs"), 0o755); err != nil { // root's
		t.Fatal(err)
	}
	writeFile(t, dir, "www/index.html", "hello\n")
	app := writeFile(t, dir, "app.yaml", `services:
  - name: site
    type: web
    listen: tcp:0:interface=127.0.0.1
    path: www
    access_log: logs/access.log
`)
	daemon(t, dir, "-u", "nobody", "-g", "nogroup", "-c", app)
	url := "http://" + logAddr(t, filepath.Join(dir, "twistd.log"))
	if resp, _ := fetch(t, webClient(), "GET", url+"/index.html"); resp.StatusCode != 200 {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
	eventually(t, 5*time.Second, "the request in the access log", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "logs/access.log"))
		return strings.Contains(string(b), `"GET /index.html HTTP/1.1" 200`)
	})
	if r := twistd(t, dir, nil, "stop", "--timeout", "10s"); r.code != 0 {
		t.Fatalf("stop: exit %d, %q", r.code, r.stderr)
	}
}

// After -u/-g, an access log in a directory only root may write keeps
// working across what comes later: SIGUSR1 after logrotate recreated it
// for root (create 0600 root root), and a reload that replaces the web
// service, whose new instance opens the log again. Both go through the
// root opener kept from before the switch.
func TestPrivilegesAccessLogReopenedAndReplacedAfterDrop(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("switching users needs root")
	}
	dir := rootDir(t)
	if err := os.Mkdir(filepath.Join(dir, "logs"), 0o755); err != nil { // root's
		t.Fatal(err)
	}
	writeFile(t, dir, "www/index.html", "hello\n")
	site := func(gen string) string {
		return "services:\n  - name: site\n    type: web\n    listen: tcp:0:interface=127.0.0.1\n" +
			"    path: www\n    access_log: logs/access.log\n    add_headers: {X-Gen: '" + gen + "'}\n"
	}
	app := writeFile(t, dir, "app.yaml", site("1"))
	pid := daemon(t, dir, "-u", "nobody", "-g", "nogroup", "-c", app)
	url := "http://" + logAddr(t, filepath.Join(dir, "twistd.log"))
	access := filepath.Join(dir, "logs/access.log")
	logged := func(what, path string) {
		t.Helper()
		eventually(t, 5*time.Second, what, func() bool {
			b, _ := os.ReadFile(access)
			return strings.Contains(string(b), `"GET `+path+` HTTP/1.1" 200`)
		})
	}
	fetch(t, webClient(), "GET", url+"/index.html?first")
	logged("the first request", "/index.html?first")

	if err := os.Rename(access, access+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(access, nil, 0o600); err != nil { // root's
		t.Fatal(err)
	}
	syscall.Kill(pid, syscall.SIGUSR1)
	eventually(t, 5*time.Second, "the reopen", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "twistd.log"))
		return strings.Contains(string(b), "logs reopened")
	})
	fetch(t, webClient(), "GET", url+"/index.html?after-rotation")
	logged("a request after the rotation, in the new file", "/index.html?after-rotation")

	writeFile(t, dir, "app.yaml", site("2"))
	if r := twistd(t, dir, nil, "reload", "--timeout", "10s"); r.code != 0 {
		t.Fatalf("reload: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	resp, _ := fetch(t, webClient(), "GET", url+"/index.html?replaced")
	if resp.Header.Get("X-Gen") != "2" {
		t.Fatalf("the reload did not replace the service: X-Gen %q", resp.Header.Get("X-Gen"))
	}
	logged("a request to the replacing service", "/index.html?replaced")
	if b, _ := os.ReadFile(filepath.Join(dir, "twistd.log")); strings.Contains(string(b), "access log") &&
		strings.Contains(string(b), "permission denied") {
		t.Fatalf("an access log open failed:\n%s", b)
	}
	if r := twistd(t, dir, nil, "stop", "--timeout", "10s"); r.code != 0 {
		t.Fatalf("stop: exit %d, %q", r.code, r.stderr)
	}
}
