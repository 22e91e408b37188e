package test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWebFastPathThroughTheBinary: on one keep-alive connection, plain
// requests (answered on the event loop's fast path) and others (net/http)
// interleave; each gets the right answer and its access log line.
func TestWebFastPathThroughTheBinary(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	body := strings.Repeat("fast path ", 400)
	if err := os.WriteFile(filepath.Join(root, "a.txt"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "access.log")
	s, _ := startWeb(t, root, "--logfile", logPath, "--add-header", "X-Test: yes")
	c, err := net.DialTimeout("tcp", s.addrs()[0], 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	steps := []struct {
		method, extra string
		code          int
		gzip          bool
	}{
		{"GET", "", 200, false},
		{"HEAD", "", 200, false},
		{"GET", "Accept-Encoding: gzip\r\n", 200, true},
		{"GET", "Range: bytes=0-3\r\n", 206, false},
		{"GET", "User-Agent: fast/1\r\n", 200, false},
	}
	for i, st := range steps {
		time.Sleep(100 * time.Millisecond) // past net/http's linger: the connection parks
		fmt.Fprintf(c, "%s /a.txt HTTP/1.1\r\nHost: x\r\n%s\r\n", st.method, st.extra)
		resp, err := http.ReadResponse(br, &http.Request{Method: st.method})
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != st.code || resp.Close || resp.Header.Get("X-Test") != "yes" ||
			resp.Header.Get("Vary") != "Accept-Encoding" || resp.Header.Get("Date") == "" ||
			(resp.Header.Get("Content-Encoding") == "gzip") != st.gzip {
			t.Fatalf("step %d: %d close=%v %v", i, resp.StatusCode, resp.Close, resp.Header)
		}
		switch {
		case st.method == "HEAD":
			if len(got) != 0 || resp.ContentLength != int64(len(body)) {
				t.Fatalf("HEAD: %d bytes, length %d", len(got), resp.ContentLength)
			}
		case st.code == 200 && !st.gzip && string(got) != body:
			t.Fatalf("step %d: wrong body (%d bytes)", i, len(got))
		}
	}
	want := []string{
		`"GET /a.txt HTTP/1.1" 200 4000 "-" "-"`,
		`"HEAD /a.txt HTTP/1.1" 200 - "-" "-"`,
		`"GET /a.txt HTTP/1.1" 200 `,
		`"GET /a.txt HTTP/1.1" 206 4 "-" "-"`,
		`"GET /a.txt HTTP/1.1" 200 4000 "-" "fast/1"`,
	}
	var lines []string
	eventually(t, 5*time.Second, "the access log lines", func() bool {
		b, _ := os.ReadFile(logPath)
		lines = strings.Split(strings.TrimSpace(string(b)), "\n")
		return len(lines) == len(want)
	})
	for i, w := range want {
		if !strings.HasPrefix(lines[i], "127.0.0.1 - - [") || !strings.Contains(lines[i], w) {
			t.Errorf("line %d: %q, want %q", i, lines[i], w)
		}
	}
}
