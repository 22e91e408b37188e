package test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestWebServesStaticFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "index.html", "<h1>home</h1>")
	writeFile(t, dir, "style.css", "body{}")
	writeFile(t, dir, "about.html", "about us")
	writeFile(t, dir, "docs/index.htm", "docs index")
	writeFile(t, dir, "app.wasm", "\x00asm")
	writeFile(t, dir, "blob.zzq", "\x00\x01")
	_, base := startWeb(t, dir, "--ignore-ext", ".html", "--add-mime-type", ".wasm=application/wasm",
		"--add-header", "X-Frame-Options: DENY", "--logfile", "access.log", "--mime-type", "application/x-test")
	c := webClient()

	resp, body := fetch(t, c, "GET", base+"/")
	wantStatus(t, "GET /", resp, 200)
	if body != "<h1>home</h1>" || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /: %q %q", body, resp.Header.Get("Content-Type"))
	}
	if resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("--add-header missing: %v", resp.Header)
	}
	resp, _ = fetch(t, c, "GET", base+"/style.css")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Fatalf("style.css: Content-Type %q", ct)
	}
	etag, lm := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if !strings.HasPrefix(etag, `"`) || lm == "" {
		t.Fatalf("want a strong ETag and Last-Modified, got %q %q", etag, lm)
	}
	resp, body = fetch(t, c, "GET", base+"/about")
	if resp.StatusCode != 200 || body != "about us" {
		t.Fatalf("--ignore-ext: /about gave %d %q", resp.StatusCode, body)
	}
	resp, _ = fetch(t, c, "GET", base+"/app.wasm")
	if ct := resp.Header.Get("Content-Type"); ct != "application/wasm" {
		t.Fatalf("--add-mime-type: %q", ct)
	}
	resp, _ = fetch(t, c, "GET", base+"/blob.zzq")
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-test" {
		t.Fatalf("--mime-type for an unknown extension: %q", ct)
	}
	resp, _ = fetch(t, c, "GET", base+"/docs?x=1")
	wantStatus(t, "GET /docs", resp, http.StatusMovedPermanently)
	if loc := resp.Header.Get("Location"); loc != "/docs/?x=1" {
		t.Fatalf("redirect to %q, want /docs/?x=1", loc)
	}
	resp, body = fetch(t, c, "GET", base+"/docs/")
	if resp.StatusCode != 200 || body != "docs index" {
		t.Fatalf("index.htm: %d %q", resp.StatusCode, body)
	}
	resp, body = fetch(t, c, "HEAD", base+"/about.html")
	if resp.StatusCode != 200 || body != "" || resp.ContentLength != int64(len("about us")) {
		t.Fatalf("HEAD: %d %q length %d", resp.StatusCode, body, resp.ContentLength)
	}
	resp, _ = fetch(t, c, "GET", base+"/nothing-here")
	wantStatus(t, "missing file", resp, 404)
	resp, _ = fetch(t, c, "POST", base+"/index.html")
	wantStatus(t, "POST", resp, http.StatusMethodNotAllowed)
	if resp.Header.Get("Allow") == "" {
		t.Fatal("405 without Allow")
	}

	// --logfile is the access log, relative to the directory the command ran in.
	eventually(t, 5*time.Second, "the access log", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "access.log"))
		return strings.Contains(string(b), `"GET /about HTTP/1.1" 200 8`)
	})

	// A changed file is served changed, with a new ETag, at once.
	writeFile(t, dir, "style.css", "body{color:red}")
	resp, body = fetch(t, c, "GET", base+"/style.css")
	if body != "body{color:red}" || resp.Header.Get("ETag") == etag {
		t.Fatalf("after a change: %q, ETag %q (was %q)", body, resp.Header.Get("ETag"), etag)
	}
}

func TestWebRefusesTraversal(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	dir := filepath.Join(parent, "site")
	writeFile(t, parent, "secret.txt", "TOPSECRET")
	writeFile(t, dir, "ok.txt", "fine")
	writeFile(t, dir, ".git/config", "[core] HIDDEN")
	writeFile(t, dir, "sub/.env", "HIDDEN=1")
	if err := os.Symlink("../secret.txt", filepath.Join(dir, "link-out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(parent, filepath.Join(dir, "dir-out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("ok.txt", filepath.Join(dir, "link-in")); err != nil {
		t.Fatal(err)
	}
	s, _ := startWeb(t, dir)
	addr := s.addrs()[0]
	for _, tt := range []struct {
		target string
		codes  []int
	}{
		{"/../secret.txt", []int{400}},
		{"/%2e%2e/secret.txt", []int{400}},
		{"/%2E%2E/%2e%2e/secret.txt", []int{400}},
		{"/..%2fsecret.txt", []int{400}},
		{"/..%2Fsecret.txt", []int{400}},
		{"/..%5csecret.txt", []int{400}},
		{`/..\secret.txt`, []int{400}},
		{"/ok.txt%00.png", []int{400}},
		{"/link-out", []int{404}},
		{"/dir-out/secret.txt", []int{404}},
		{"/dir-out/", []int{404}},
		{"/.git/config", []int{404}},
		{"/sub/.env", []int{404}},
		{"/sub/../../secret.txt", []int{400}},
		{"//etc/passwd", []int{404}},
		{"/link-in", []int{200}},
	} {
		resp, body := rawRequest(t, addr, "GET "+tt.target+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		ok := false
		for _, c := range tt.codes {
			ok = ok || resp.StatusCode == c
		}
		if !ok {
			t.Errorf("GET %s: %d, want %v", tt.target, resp.StatusCode, tt.codes)
		}
		if strings.Contains(body, "TOPSECRET") || strings.Contains(body, "HIDDEN") {
			t.Errorf("GET %s leaked %q", tt.target, body)
		}
	}
	// Listings leave hidden names and links leaving the root out.
	_, body := fetch(t, webClient(), "GET", "http://"+addr+"/", "Accept", "application/json")
	if strings.Contains(body, ".git") || strings.Contains(body, "link-out") || strings.Contains(body, "dir-out") ||
		!strings.Contains(body, "link-in") {
		t.Errorf("listing: %s", body)
	}
}

func TestWebFromApplicationFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "public/hello.txt", "hello")
	writeFile(t, dir, "public/empty/keep", "")
	writeFile(t, dir, "public/secret.bak", "backup")
	writeFile(t, dir, "public/main.mjs", "export{}")
	writeFile(t, dir, "404.html", "<h1>nope</h1>")
	app := writeFile(t, dir, "app.yaml", `
services:
  - name: site
    type: web
    listen: tcp:0:interface=127.0.0.1
    path: ./public
    listing: false
    hidden: ["*.bak", ".*"]
    mime_types: {.mjs: text/javascript}
    add_headers: {X-Site: demo}
    access_log: logs/access.log
    errors: {404: 404.html}
    timeouts: {read_header: 5s, idle: 30s}
`)
	if err := os.Mkdir(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := start(t, t.TempDir(), nil, "-n", "--pidfile=", "-c", app)
	base := "http://" + s.addrs()[0]
	c := webClient()
	resp, body := fetch(t, c, "GET", base+"/hello.txt", "User-Agent", `tester "1"`, "Referer", "http://ref.test/")
	if resp.StatusCode != 200 || body != "hello" || resp.Header.Get("X-Site") != "demo" {
		t.Fatalf("hello.txt: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = fetch(t, c, "GET", base+"/empty/")
	if resp.StatusCode != 404 || body != "<h1>nope</h1>" {
		t.Fatalf("listing: false: %d %q", resp.StatusCode, body)
	}
	resp, _ = fetch(t, c, "GET", base+"/secret.bak")
	wantStatus(t, "hidden *.bak", resp, 404)
	resp, _ = fetch(t, c, "GET", base+"/main.mjs")
	if ct := resp.Header.Get("Content-Type"); ct != "text/javascript" {
		t.Fatalf("mime_types: %q", ct)
	}
	logPath := filepath.Join(dir, "logs", "access.log")
	var log string
	eventually(t, 5*time.Second, "four access log lines", func() bool {
		b, _ := os.ReadFile(logPath)
		log = string(b)
		return strings.Count(log, "\n") >= 4
	})
	first := strings.SplitN(log, "\n", 2)[0]
	if !regexpMatch(`^127\.0\.0\.1 - - \[\d\d/\w\w\w/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET /hello\.txt HTTP/1\.1" 200 5 "http://ref\.test/" "tester \\x221\\x22"$`, first) {
		t.Fatalf("access log line not in Combined Log Format: %q", first)
	}

	// SIGUSR1 reopens the access log after logrotate moved it.
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	s.signal(syscall.SIGUSR1)
	eventually(t, 5*time.Second, "the access log to be reopened", func() bool {
		fetch(t, c, "GET", base+"/hello.txt")
		b, err := os.ReadFile(logPath)
		return err == nil && strings.Contains(string(b), "GET /hello.txt")
	})
}

func TestWebConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "app.yaml", `
services:
  - type: web
    listen: tcp:0
    path: ./missing
    pth: x
    index: [a/b]
    hidden: ["[bad"]
    proxy: [{prefix: api, to: "ftp://x"}]
    basic_auth: {htpasswd: ./nope}
    errors: {200: ok.html}
`)
	r := twistd(t, dir, nil, "check", "-c", "app.yaml")
	if r.code != 2 {
		t.Fatalf("check: exit %d, want 2: %s", r.code, r.stderr)
	}
	for _, want := range []string{`app.yaml:5:11`, `missing`, `app.yaml:6:5: service "web": unknown key "pth"`,
		`app.yaml:7:12: service "web": index`, `app.yaml:8:13: service "web": hidden`, `proxy[0]: prefix "api"`,
		`app.yaml:10:28: service "web": no such file "./nope"`, `errors: 200 is not an error status`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("check output lacks %q:\n%s", want, r.stderr)
		}
	}
}

func TestWebSniffsUnknownTypes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "LICENSE", "plain words of a licence")
	writeFile(t, dir, "page.unknownext", "<!DOCTYPE html><p>x</p>")
	_, base := startWeb(t, dir)
	c := webClient()
	for name, want := range map[string]string{"LICENSE": "text/plain", "page.unknownext": "text/html"} {
		resp, _ := fetch(t, c, "GET", base+"/"+name)
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, want) {
			t.Errorf("%s: Content-Type %q, want %s", name, ct, want)
		}
	}
}
