package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// An access log in a directory only root may write is opened before
// -u/-g take that right away, and serves the daemon's whole life.
func TestPrivilegesAccessLogInRootDirectory(t *testing.T) {
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
