package test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// The proxy keeps hostile requests from its backends: an Upgrade (h2c,
// websocket) never goes around basic_auth and only goes through on a
// route that enables it, TRACE is not forwarded, strip_prefix strips the
// cleaned path, and a silent backend gets a 504 after the configured
// response-header timeout instead of holding the client.
func TestWebHostileProxy(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" upgrade="+r.Header.Get("Upgrade"))
		mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/silent") {
			<-r.Context().Done()
			return
		}
		w.Write([]byte("backend " + r.URL.Path))
	}))
	defer upstream.Close()
	saw := func(what string) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range seen {
			if strings.Contains(s, what) {
				return true
			}
		}
		return false
	}
	dir := t.TempDir()
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	writeFile(t, dir, "htpasswd", "alice:"+string(hash)+"\n")
	writeFile(t, dir, "public/index.html", "static")
	app := writeFile(t, dir, "app.yaml", `
services:
  - name: site
    type: web
    listen: tcp:0:interface=127.0.0.1
    path: ./public
    basic_auth: {htpasswd: ./htpasswd, paths: [/private/]}
    proxy:
      - {prefix: /private/, to: "`+upstream.URL+`"}
      - {prefix: /api/, to: "`+upstream.URL+`", strip_prefix: true}
      - {prefix: /silent/, to: "`+upstream.URL+`", timeouts: {response_header: 300ms}}
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	addr := s.addrs()[0]

	resp, _ := rawRequest(t, addr, "GET /private/x HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
	if resp.StatusCode != 401 || saw("/private/x") {
		t.Fatalf("h2c upgrade to a protected path: %d, backend saw it: %v", resp.StatusCode, saw("/private/x"))
	}
	resp, _ = rawRequest(t, addr, "GET /api/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	if resp.StatusCode == http.StatusSwitchingProtocols || saw("upgrade=websocket") {
		t.Fatalf("a websocket upgrade went through a route that does not enable it: %d", resp.StatusCode)
	}
	resp, _ = rawRequest(t, addr, "TRACE /api/t HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != http.StatusMethodNotAllowed || saw("TRACE") {
		t.Fatalf("TRACE: %d, forwarded: %v", resp.StatusCode, saw("TRACE"))
	}
	resp, body := rawRequest(t, addr, "GET //api/x HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 200 || body != "backend /x" {
		t.Fatalf("strip_prefix of //api/x: %d %q", resp.StatusCode, body)
	}
	began := time.Now()
	resp, _ = rawRequest(t, addr, "GET /silent/x HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != http.StatusGatewayTimeout || time.Since(began) > 5*time.Second {
		t.Fatalf("silent backend: %d after %s, want 504 after the response_header timeout", resp.StatusCode, time.Since(began))
	}
}
