package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Requests net/http refuses before any handler runs (a malformed request
// line, a head over max_header_bytes, an unknown transfer coding,
// ambiguous framing) are in the access log and the request metrics like
// any other.
func TestWebHostileRejectedRequestsLeaveATrace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "public/a.txt", "a")
	app := writeFile(t, dir, "app.yaml", `
admin: {listen: 'tcp:0:interface=127.0.0.1'}
services:
  - name: site
    type: web
    listen: tcp:0:interface=127.0.0.1
    path: ./public
    access_log: access.log
    max_header_bytes: 4KiB
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	a := s.addrs()
	admin, addr := "http://"+a[0], a[1]

	for _, tc := range []struct {
		req  string
		code int
	}{
		{"GARBAGE\r\n\r\n", 400},
		{"GET /big HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 16<<10) + "\r\n\r\n", 431},
		{"POST /coded HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"POST /smuggle HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	} {
		resp, _ := rawRequest(t, addr, tc.req)
		wantStatus(t, strings.SplitN(tc.req, "\r\n", 2)[0], resp, tc.code)
	}
	resp, _ := rawRequest(t, addr, "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	wantStatus(t, "a good request", resp, 200)

	var log string
	eventually(t, 5*time.Second, "five access log lines", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "access.log"))
		log = string(b)
		return strings.Count(log, "\n") >= 5
	})
	for _, want := range []string{`"GARBAGE" 400 `, `"GET /big HTTP/1.1" 431 `, `"POST /coded HTTP/1.1" 501 `,
		`"POST /smuggle HTTP/1.1" 400 `, `"GET /a.txt HTTP/1.1" 200 1 `} {
		if !strings.Contains(log, want) {
			t.Errorf("access log lacks %s:\n%s", want, log)
		}
	}
	var metrics string
	eventually(t, 5*time.Second, "the request metrics", func() bool {
		_, metrics, _ = httpGet(t, admin+"/metrics")
		return strings.Contains(metrics, `twistd_http_requests_total{code="400",service="site"} 2`)
	})
	for _, want := range []string{
		`twistd_http_requests_total{code="431",service="site"} 1`,
		`twistd_http_requests_total{code="501",service="site"} 1`,
		`twistd_http_request_duration_seconds_count{service="site"} 5`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
