package web

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/metrics"
	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/protocol/httpconn"
	"github.com/twistd-go/twistd/service"
)

// fastSite is a handler over a few files, with add_headers and an access
// log, bound to counters; its cache holds every file, as after a first
// request for each.
func fastSite(t *testing.T, mutate func(*Options)) (*handler, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{
		"a.bin":                bytes.Repeat([]byte{0, 1, 2, 0xff}, 1024),
		"t.txt":                []byte(strings.Repeat("hello text ", 300)),
		"sub/s.css":            []byte("body{}"),
		"index.html":           []byte("<p>index</p>"),
		".git/config":          []byte("secret"),
		"big.bin":              make([]byte, fastMaxBody+1),
		"odd$&+,;=:@~name.txt": []byte("odd"),
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	opts := DefaultOptions()
	opts.Path = plugin.DirPath(dir)
	opts.AddHeaders = map[string]string{"x-frame-options": "DENY", "Cache-Control": " max-age=60 "}
	if mutate != nil {
		mutate(&opts)
	}
	srv, err := newServer(&opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.h.bind(&service.Env{Name: "site", Logger: zap.NewNop(), Stats: &service.Stats{}, Metrics: metrics.New()})
	for name := range files {
		name = filepath.ToSlash(name)
		if fi, err := srv.h.site.root.Stat(name); err == nil {
			if _, err := srv.h.site.cache.get(name, fi); err != nil {
				t.Fatal(err)
			}
		}
	}
	var log bytes.Buffer
	srv.h.access.Store(&accessLog{w: &log})
	return srv.h, &log
}

type sink struct{ bytes.Buffer }

func (s *sink) Write(p []byte) { s.Buffer.Write(p) }
func (s *sink) WriteMany(bufs ...[]byte) {
	for _, b := range bufs {
		s.Buffer.Write(b)
	}
}

var peer = &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 4321}

// viaNetHTTP answers head with h behind a real net/http server and
// returns the raw response bytes.
func viaNetHTTP(t *testing.T, h http.Handler, head string) []byte {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close(); wg.Wait() }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	method, _, _ := strings.Cut(head, " ")
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	raw.WriteString("HTTP/1.1 " + resp.Status + "\r\n")
	_ = resp.Header.Write(&raw)
	raw.WriteString("\r\n")
	raw.Write(body)
	return raw.Bytes()
}

var dateLine = regexp.MustCompile(`(?m)^Date: [A-Za-z]{3}, \d\d [A-Za-z]{3} \d{4} \d\d:\d\d:\d\d GMT\r$`)

// normalized splits a response into its sorted header lines (the Date
// value blanked) and its body.
func normalized(t *testing.T, raw []byte) ([]string, []byte) {
	t.Helper()
	head, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("no end of head in %q", raw)
	}
	if !dateLine.Match(head) {
		t.Errorf("no valid Date in %q", head)
	}
	lines := strings.Split(string(dateLine.ReplaceAll(head, []byte("Date: -\r"))), "\r\n")
	slices.Sort(lines[1:])
	return lines, body
}

func TestFastPathMatchesNetHTTP(t *testing.T) {
	h, log := fastSite(t, nil)
	for _, head := range []string{
		"GET /a.bin HTTP/1.1\r\nHost: example.test\r\n\r\n",
		"HEAD /a.bin HTTP/1.1\r\nHost: example.test\r\n\r\n",
		"GET /t.txt HTTP/1.1\r\nHost: example.test\r\nUser-Agent: wrk\r\nReferer: http://x/\r\n\r\n",
		"HEAD /t.txt HTTP/1.1\r\nHost: example.test:8080\r\n\r\n",
		"GET /sub/s.css HTTP/1.1\r\nhost: example.test\r\nAccept: */*\r\n\r\n",
		"GET /odd%24&+,;=:@~name.txt HTTP/1.1\r\nHost: h\r\n\r\n", // not fast: '%'
		"GET /odd$&+,;=:@~name.txt HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /index.html HTTP/1.1\r\nHost: h\r\n\r\n",
	} {
		var out sink
		r, ok := httpconn.NewFastRequest([]byte(head), peer, &out)
		if !ok {
			if !strings.Contains(head, "%") {
				t.Errorf("%q: the parser refused it", head)
			}
			continue
		}
		log.Reset()
		if !h.ServeFast(r) {
			t.Errorf("%q: not served fast", head)
			continue
		}
		fastLog := log.String()
		log.Reset()
		want := viaNetHTTP(t, h, head)
		gl, gb := normalized(t, out.Bytes())
		wl, wb := normalized(t, want)
		if !slices.Equal(gl, wl) || !bytes.Equal(gb, wb) {
			t.Errorf("%q:\nfast    %q\nnethttp %q", head, out.Bytes(), want)
		}
		// The access log lines agree but for the peer and the time.
		stamp := regexp.MustCompile(`^\S+ (.*)\[[^]]*\](.*)\n$`)
		if g, w := stamp.ReplaceAllString(fastLog, "$1$2"), stamp.ReplaceAllString(log.String(), "$1$2"); g == fastLog || g != w || !strings.HasPrefix(fastLog, "192.0.2.7 - - [") {
			t.Errorf("%q: access log\nfast    %q\nnethttp %q", head, fastLog, log.String())
		}
	}
}

func TestFastPathDeclines(t *testing.T) {
	h, _ := fastSite(t, nil)
	for _, head := range []string{
		"GET /a.bin HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\n\r\n",
		"GET /a.bin HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"x\"\r\n\r\n",
		"GET /a.bin HTTP/1.1\r\nHost: h\r\nif-modified-since: Sun, 22 Nov 2026 08:00:00 GMT\r\n\r\n",
		"GET /a.bin HTTP/1.1\r\nHost: h\r\nAuthorization: Basic eDp5\r\n\r\n",
		"GET /t.txt HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /sub HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /sub/ HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /missing HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /.git/config HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /big.bin HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /a/../a.bin HTTP/1.1\r\nHost: h\r\n\r\n",
	} {
		var out sink
		r, ok := httpconn.NewFastRequest([]byte(head), peer, &out)
		if !ok {
			t.Errorf("%q: the parser refused it", head)
			continue
		}
		if h.ServeFast(r) || out.Len() > 0 {
			t.Errorf("%q: served fast", head)
		}
	}
	// Virtual hosts and add_headers net/http acts on keep every request
	// on net/http.
	for name, mutate := range map[string]func(*Options){
		"vhosts":            func(o *Options) { o.Vhosts = map[string]plugin.DirPath{"other.test": o.Path} },
		"add Connection":    func(o *Options) { o.AddHeaders = map[string]string{"Connection": "close"} },
		"add Date":          func(o *Options) { o.AddHeaders = map[string]string{"date": "today"} },
		"add Keep-Alive":    func(o *Options) { o.AddHeaders = map[string]string{"Keep-Alive": "1"} },
		"add Transfer-Enc.": func(o *Options) { o.AddHeaders = map[string]string{"Transfer-Encoding": "x"} },
	} {
		h, _ := fastSite(t, mutate)
		var out sink
		r, _ := httpconn.NewFastRequest([]byte("GET /a.bin HTTP/1.1\r\nHost: h\r\n\r\n"), peer, &out)
		if h.ServeFast(r) || out.Len() > 0 {
			t.Errorf("%s: served fast", name)
		}
	}
}

// A file not in the cache is not read on the event loop: the fast path
// declines it without reading it, net/http's goroutine serves it and
// fills the cache, and the next request is answered from memory.
func TestFastPathMissDoesNotReadOnTheLoop(t *testing.T) {
	h, _ := fastSite(t, nil)
	h.site.cache.reset()
	head := []byte("GET /a.bin HTTP/1.1\r\nHost: h\r\n\r\n")
	var out sink
	r, _ := httpconn.NewFastRequest(head, peer, &out)
	if h.ServeFast(r) || out.Len() > 0 {
		t.Fatal("a cold file was served on the loop")
	}
	if e := h.site.cache.fresh("a.bin"); e != nil {
		t.Fatal("declining a cold file read it: its entry is cached")
	}
	if w := get(h, "/a.bin"); w.Code != http.StatusOK || w.Body.Len() != 4096 {
		t.Fatalf("net/http: %d, %d bytes", w.Code, w.Body.Len())
	}
	if e := h.site.cache.fresh("a.bin"); e == nil || e.data == nil {
		t.Fatal("net/http's request did not warm the entry")
	}
	r, _ = httpconn.NewFastRequest(head, peer, &out)
	if !h.ServeFast(r) || !bytes.HasSuffix(out.Bytes(), bytes.Repeat([]byte{0, 1, 2, 0xff}, 1024)) {
		t.Fatal("the warm file was not served on the loop")
	}
}

func TestFastPathRerendersEachSecond(t *testing.T) {
	h, _ := fastSite(t, nil)
	head := []byte("GET /a.bin HTTP/1.1\r\nHost: h\r\n\r\n")
	var first, second sink
	r, _ := httpconn.NewFastRequest(head, peer, &first)
	if !h.ServeFast(r) {
		t.Fatal("not served fast")
	}
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))
	r, _ = httpconn.NewFastRequest(head, peer, &second)
	if !h.ServeFast(r) {
		t.Fatal("not served fast")
	}
	d1, d2 := dateLine.Find(first.Bytes()), dateLine.Find(second.Bytes())
	if bytes.Equal(d1, d2) {
		t.Errorf("same Date a second later: %q", d1)
	}
	if got := h.stats.Requests.Load(); got != 2 {
		t.Errorf("Stats.Requests = %d, want 2", got)
	}
}

// counter takes a response and keeps only its length.
type counter struct{ n int }

func (c *counter) Write(p []byte) { c.n += len(p) }
func (c *counter) WriteMany(bufs ...[]byte) {
	for _, b := range bufs {
		c.n += len(b)
	}
}

// A request answered on the event loop makes no garbage: at 150,000
// requests a second, the collections it caused were the web service's
// p99 (23 a second of 5 ms each, on the loop's CPU).
func TestFastPathAllocatesNothing(t *testing.T) {
	if !canFreshStat {
		t.Skip("the fast path stats through os.Root here, which allocates")
	}
	h, _ := fastSite(t, nil)
	h.access.Store(nil)
	var out counter
	r, ok := httpconn.NewFastRequest([]byte("GET /a.bin HTTP/1.1\r\nHost: h\r\nUser-Agent: wrk\r\n\r\n"), peer, &out)
	if !ok || !h.ServeFast(r) {
		t.Fatal("not served on the loop")
	}
	if n := testing.AllocsPerRun(200, func() { h.ServeFast(r) }); n != 0 {
		t.Errorf("%v allocations per request, want 0", n)
	}
}

// The fast path answers from memory only while the file is the version
// it read: a write in place (same size), a replacement by rename, a
// chmod, a removal and a directory swapped for a symlink out of the root
// each send the next request to net/http, which reads the file anew
// through the root (and refuses the symlink).
func TestFastPathSeesEveryChange(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "s.css"), []byte("body{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	changes := []struct {
		name, file string
		change     func(dir string) error
	}{
		{"write in place", "a.bin", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "a.bin"), bytes.Repeat([]byte{9, 9, 9, 9}, 1024), 0o644)
		}},
		{"rename over", "a.bin", func(dir string) error {
			if err := os.WriteFile(filepath.Join(dir, "a.new"), bytes.Repeat([]byte{7}, 4096), 0o644); err != nil {
				return err
			}
			return os.Rename(filepath.Join(dir, "a.new"), filepath.Join(dir, "a.bin"))
		}},
		{"chmod", "a.bin", func(dir string) error { return os.Chmod(filepath.Join(dir, "a.bin"), 0o600) }},
		{"remove", "a.bin", func(dir string) error { return os.Remove(filepath.Join(dir, "a.bin")) }},
		{"directory swapped for a symlink out", "sub/s.css", func(dir string) error {
			if err := os.RemoveAll(filepath.Join(dir, "sub")); err != nil {
				return err
			}
			return os.Symlink(outside, filepath.Join(dir, "sub"))
		}},
	}
	for _, tc := range changes {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := fastSite(t, nil)
			head := []byte("GET /" + tc.file + " HTTP/1.1\r\nHost: h\r\n\r\n")
			var out sink
			if r, _ := httpconn.NewFastRequest(head, peer, &out); !h.ServeFast(r) {
				t.Fatal("the cached file was not served on the loop")
			}
			if err := tc.change(h.site.dir); err != nil {
				t.Fatal(err)
			}
			out.Reset()
			if r, _ := httpconn.NewFastRequest(head, peer, &out); h.ServeFast(r) || out.Len() > 0 {
				t.Fatalf("after the change the loop answered from memory: %.60q", out.String())
			}
		})
	}
}
