package test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestWebTLSAndHTTP2(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	selfSigned(t, dir)
	writeFile(t, dir, "hello.txt", "over tls")
	s, _ := startWeb(t, dir, "--https", "0", "--certificate", "cert.pem", "--privkey", "key.pem")
	addrs := s.addrs()
	if len(addrs) != 2 {
		t.Fatalf("want the tcp and ssl listeners, got %v", addrs)
	}
	c := webClient()
	resp, body := fetch(t, c, "GET", "https://"+addrs[1]+"/hello.txt")
	if resp.StatusCode != 200 || body != "over tls" || resp.ProtoMajor != 2 {
		t.Fatalf("https: %d %q %s", resp.StatusCode, body, resp.Proto)
	}
	if resp.TLS == nil || resp.TLS.NegotiatedProtocol != "h2" {
		t.Fatalf("ALPN did not pick h2: %+v", resp.TLS)
	}
	resp, _ = fetch(t, c, "GET", "https://"+addrs[1]+"/hello.txt", "Range", "bytes=0-3")
	if resp.StatusCode != 206 || resp.ProtoMajor != 2 {
		t.Fatalf("range over h2: %d %s", resp.StatusCode, resp.Proto)
	}
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}}}
	resp, body = fetch(t, h1, "GET", "https://"+addrs[1]+"/hello.txt")
	if resp.ProtoMajor != 1 || body != "over tls" {
		t.Fatalf("HTTP/1.1 over TLS: %s %q", resp.Proto, body)
	}
	_, err := tls.Dial("tcp", addrs[1], &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11})
	if err == nil {
		t.Fatal("TLS 1.1 was accepted")
	}
	resp, body = fetch(t, c, "GET", "http://"+addrs[0]+"/hello.txt")
	if resp.StatusCode != 200 || body != "over tls" {
		t.Fatalf("plain listener beside: %d %q", resp.StatusCode, body)
	}
}

func TestWebReverseProxy(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/stream" {
			fmt.Fprint(w, "first chunk\n")
			w.(http.Flusher).Flush()
			<-release
			fmt.Fprint(w, "second chunk\n")
			return
		}
		fmt.Fprintf(w, "path=%s query=%s xff=%s proto=%s host=%s fhost=%s",
			r.URL.Path, r.URL.RawQuery, r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Proto"),
			r.Host, r.Header.Get("X-Forwarded-Host"))
	}))
	defer upstream.Close()
	defer close(release)
	deadAddr := "127.0.0.1:" + itoa(freePort(t)) // nothing listens there

	dir := t.TempDir()
	writeFile(t, dir, "public/index.html", "static")
	app := writeFile(t, dir, "app.yaml", `
services:
  - name: site
    type: web
    listen: tcp:0:interface=127.0.0.1
    path: ./public
    proxy:
      - {prefix: /api/, to: "`+upstream.URL+`"}
      - {prefix: /v2/, to: "`+upstream.URL+`/base", strip_prefix: true}
      - {prefix: /down/, to: "http://`+deadAddr+`"}
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	base := "http://" + s.addrs()[0]
	c := webClient()

	resp, body := fetch(t, c, "GET", base+"/api/users?id=7", "Host", "site.test")
	if resp.StatusCode != 200 || body != "path=/api/users query=id=7 xff=127.0.0.1 proto=http host=site.test fhost=site.test" {
		t.Fatalf("proxy: %d %q", resp.StatusCode, body)
	}
	_, body = fetch(t, c, "GET", base+"/v2/users")
	if !strings.HasPrefix(body, "path=/base/users ") {
		t.Fatalf("strip_prefix: %q", body)
	}
	_, body = fetch(t, c, "GET", base+"/")
	if body != "static" {
		t.Fatalf("static beside the proxy: %q", body)
	}
	resp, _ = fetch(t, c, "GET", base+"/down/x")
	wantStatus(t, "upstream down", resp, http.StatusBadGateway)
	s.waitFor(`upstream failed.*`+deadAddr, 5*time.Second)

	// Streaming: the first chunk arrives while the upstream still holds the rest.
	resp, err := c.Get(base + "/api/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line := make([]byte, len("first chunk\n"))
	if _, err := io.ReadFull(resp.Body, line); err != nil || string(line) != "first chunk\n" {
		t.Fatalf("streaming: %q %v", line, err)
	}
}

func TestWebBasicAuth(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "htpasswd", "# users\nalice:"+string(hash)+"\nbob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
	writeFile(t, dir, "public/open.txt", "open")
	writeFile(t, dir, "public/private/doc.txt", "private doc")
	app := writeFile(t, dir, "app.yaml", `
services:
  - type: web
    listen: tcp:0:interface=127.0.0.1
    path: ./public
    access_log: access.log
    basic_auth: {realm: staff only, htpasswd: ./htpasswd, paths: [/private/]}
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	base := "http://" + s.addrs()[0]
	c := webClient()
	resp, _ := fetch(t, c, "GET", base+"/open.txt")
	wantStatus(t, "unprotected", resp, 200)
	for _, p := range []string{"/private/doc.txt", "/private/", "/private", "//private/doc.txt", "/./private/doc.txt"} {
		resp, body := fetch(t, c, "GET", base+p)
		if resp.StatusCode != 401 || strings.Contains(body, "private doc") {
			t.Fatalf("GET %s without credentials: %d", p, resp.StatusCode)
		}
		if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="staff only", charset="UTF-8"` {
			t.Fatalf("challenge %q", got)
		}
	}
	req, _ := http.NewRequest("GET", base+"/private/doc.txt", nil)
	req.SetBasicAuth("alice", "wrong")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantStatus(t, "wrong password", resp, 401)
	for _, cred := range [][2]string{{"alice", "s3cret"}, {"bob", "password"}} {
		req, _ = http.NewRequest("GET", base+"/private/doc.txt", nil)
		req.SetBasicAuth(cred[0], cred[1])
		resp, err = c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "private doc" {
			t.Fatalf("%s: %d %q", cred[0], resp.StatusCode, body)
		}
	}
}

func TestWebVirtualHosts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "default/index.html", "default site")
	writeFile(t, dir, "example/index.html", "example site")
	app := writeFile(t, dir, "app.yaml", `
services:
  - type: web
    listen: tcp:0:interface=127.0.0.1
    path: ./default
    vhosts: {example.test: ./example, Other.Test: ./example}
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	base := "http://" + s.addrs()[0]
	c := webClient()
	for host, want := range map[string]string{
		"example.test": "example site", "EXAMPLE.test:8080": "example site", "example.test.": "example site",
		"other.test": "example site", "unknown.test": "default site", "127.0.0.1": "default site",
	} {
		_, body := fetch(t, c, "GET", base+"/", "Host", host)
		if body != want {
			t.Errorf("Host %s: %q, want %q", host, body, want)
		}
	}
}

func TestWebHardening(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.txt", "a")
	app := writeFile(t, dir, "app.yaml", `
services:
  - type: web
    listen: tcp:0:interface=127.0.0.1
    path: .
    max_header_bytes: 4KiB
    timeouts: {read_header: 300ms, idle: 1s}
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	addr := s.addrs()[0]

	// Slowloris: a header that never ends is cut off.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Slow: ")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	began := time.Now()
	_, err = io.ReadAll(c)
	if err != nil || time.Since(began) > 3*time.Second {
		t.Fatalf("slow header not cut off: %v after %s", err, time.Since(began))
	}

	// A header over the limit gets 431.
	resp, _ := rawRequest(t, addr, "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("b", 16<<10)+"\r\n\r\n")
	wantStatus(t, "huge header", resp, http.StatusRequestHeaderFieldsTooLarge)

	// Malformed requests get 400, and the server goes on.
	for _, bad := range []string{"GARBAGE\r\n\r\n", "GET /a.txt HTTP/1.1\r\n\r\n", "GET a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=9999999999999999999999-1\r\n\r\n"} {
		resp, _ := rawRequest(t, addr, bad)
		if resp.StatusCode != 400 && resp.StatusCode != 200 && resp.StatusCode != 416 {
			t.Errorf("%q: %d", bad, resp.StatusCode)
		}
	}
	resp, body := rawRequest(t, addr, "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != 200 || body != "a" {
		t.Fatalf("after bad input: %d %q", resp.StatusCode, body)
	}
}
