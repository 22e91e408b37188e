package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rootDir is a t.TempDir() whose parents nobody may traverse, as a
// daemon's directories are.
func rootDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A relative -c with -d: the file is found where it was named from, at
// start and at every reload.
func TestPrivilegesRelativeConfigWithRundir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "run"), 0o755)
	writeFile(t, dir, "cr/app.yaml", "services:\n  - {type: echo, listen: 'tcp:0:interface=127.0.0.1'}\n")
	daemon(t, dir, "-d", "run", "-c", "cr/app.yaml")
	if r := twistd(t, dir, nil, "reload", "--timeout", "10s"); r.code != 0 || !strings.Contains(r.stdout, "reloaded") {
		t.Fatalf("reload with -d and a relative -c: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if r := twistd(t, dir, nil, "stop", "--timeout", "10s"); r.code != 0 {
		t.Fatalf("stop: exit %d, %q", r.code, r.stderr)
	}
}

// Under --chroot, with -d and a relative -c, a reload re-reads the file
// at its place inside the jail, and the services it builds read their
// files there too: a replaced web service serves the jail's root, a kept
// one re-reads its error pages. A path outside the jail fails the reload,
// saying why.
func TestChrootReloadReadsFilesInsideTheJail(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("chroot needs root")
	}
	dir := rootDir(t)
	os.Mkdir(filepath.Join(dir, "run"), 0o755)
	writeFile(t, dir, "jail/www/index.html", "in the jail\n")
	writeFile(t, dir, "jail/www/404.html", "first 404\n")
	writeFile(t, dir, "outside/index.html", "outside\n")
	site := func(extra string) string {
		return "services:\n  - name: site\n    type: web\n    listen: tcp:0:interface=127.0.0.1\n" +
			"    path: www\n    errors: {404: www/404.html}\n" + extra
	}
	writeFile(t, dir, "jail/app.yaml", site(""))
	daemon(t, dir, "-d", "run", "--chroot", "jail", "-u", "nobody", "-g", "nogroup", "-c", "jail/app.yaml")
	url := "http://" + logAddr(t, filepath.Join(dir, "twistd.log"))
	c := webClient()
	reload := func(want int, what string) result {
		t.Helper()
		r := twistd(t, dir, nil, "reload", "--timeout", "10s")
		if r.code != want {
			log, _ := os.ReadFile(filepath.Join(dir, "twistd.log"))
			t.Fatalf("%s: reload exit %d, want %d: %q %q\n%s", what, r.code, want, r.stdout, r.stderr, log)
		}
		// A kept-alive connection to a replaced service may be answered
		// once more by the one it replaced (with Connection: close): the
		// checks below are about the new one.
		c.CloseIdleConnections()
		return r
	}

	reload(0, "unchanged file")
	if _, body := fetch(t, c, "GET", url+"/"); body != "in the jail\n" {
		t.Fatalf("after the first reload: %q", body)
	}
	writeFile(t, dir, "jail/app.yaml", site("    add_headers: {X-Gen: '2'}\n"))
	reload(0, "changed service")
	resp, body := fetch(t, c, "GET", url+"/")
	if resp.Header.Get("X-Gen") != "2" || body != "in the jail\n" {
		t.Fatalf("the replaced service: X-Gen %q, body %q", resp.Header.Get("X-Gen"), body)
	}
	writeFile(t, dir, "jail/www/404.html", "second 404\n")
	reload(0, "kept service re-reading its error page")
	if _, body := fetch(t, c, "GET", url+"/nothing"); body != "second 404\n" {
		t.Fatalf("error page after the in-place re-read: %q", body)
	}

	writeFile(t, dir, "jail/app.yaml", strings.Replace(site(""), "path: www", "path: ../outside", 1))
	r := reload(1, "web root outside the jail")
	if !strings.Contains(r.stderr, filepath.Join(dir, "outside")) || !strings.Contains(r.stderr, "outside the chroot") {
		t.Fatalf("the failed reload does not say the root is outside the chroot: %q", r.stderr)
	}
	if _, body := fetch(t, c, "GET", url+"/"); body != "in the jail\n" {
		t.Fatalf("after the failed reload: %q", body)
	}
	if r := twistd(t, dir, nil, "stop", "--timeout", "10s"); r.code != 0 {
		t.Fatalf("stop: exit %d, %q", r.code, r.stderr)
	}
}

// An application file outside the jail: start warns that a reload cannot
// read it, and a reload fails saying so; check and start warn of a
// service's files outside the jail.
func TestChrootWarnsOfFilesOutsideTheJail(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("chroot needs root")
	}
	dir := rootDir(t)
	writeFile(t, dir, "jail/www/index.html", "in the jail\n")
	writeFile(t, dir, "outside/index.html", "outside\n")
	app := writeFile(t, dir, "app.yaml", `services:
  - name: site
    type: web
    listen: tcp:0:interface=127.0.0.1
    path: outside
`)
	r := twistd(t, dir, nil, "--chroot", "jail", "check", "-c", app)
	if r.code != 0 || !strings.Contains(r.stderr, "app.yaml:5:11") ||
		!strings.Contains(r.stderr, filepath.Join(dir, "outside")+" lies outside the chroot "+filepath.Join(dir, "jail")) {
		t.Fatalf("check: exit %d, stderr %q; want 0 and a warning naming the path and the jail", r.code, r.stderr)
	}
	if r := twistd(t, dir, nil, "check", "-c", app); strings.Contains(r.stderr, "chroot") {
		t.Fatalf("check without --chroot warns: %q", r.stderr)
	}

	daemon(t, dir, "--chroot", "jail", "-c", "app.yaml")
	logfile := filepath.Join(dir, "twistd.log")
	log, _ := os.ReadFile(logfile)
	for _, want := range []string{
		"application file " + app + " lies outside the chroot",
		filepath.Join(dir, "outside") + " lies outside the chroot",
	} {
		if !strings.Contains(string(log), want) {
			t.Errorf("start does not warn %q:\n%s", want, log)
		}
	}
	url := "http://" + logAddr(t, logfile)
	if _, body := fetch(t, webClient(), "GET", url+"/"); body != "outside\n" {
		t.Fatalf("a root opened before the chroot: %q", body)
	}
	r = twistd(t, dir, nil, "reload", "--timeout", "10s")
	if r.code != 1 || !strings.Contains(r.stderr, app) || !strings.Contains(r.stderr, "outside the chroot") {
		t.Fatalf("reload of a file outside the jail: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if r := twistd(t, dir, nil, "stop", "--timeout", "10s"); r.code != 0 {
		t.Fatalf("stop: exit %d, %q", r.code, r.stderr)
	}
}
