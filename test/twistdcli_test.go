package test

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// twistd's command line (SPEC §11).
func TestVersionFlag(t *testing.T) {
	t.Parallel()
	r := twistd(t, ".", nil, "--version")
	v := twistd(t, ".", nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "twistd ") || r.stdout != v.stdout {
		t.Fatalf("--version: exit %d %q; version: %q", r.code, r.stdout, v.stdout)
	}
}

func TestWebShortFlagsAndPortEndpoint(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "www/home.html", "home\n")
	s := start(t, dir, nil, "-n", "--pidfile=", "web", "-p", "tcp:0:interface=127.0.0.1", "--path", "www",
		"-i", "home.html", "-l", "access.log", "-m", "text/plain")
	addrs := s.addrs()
	if len(addrs) != 1 || !strings.HasPrefix(addrs[0], "127.0.0.1:") {
		t.Fatalf("listening on %v, want one loopback address", addrs)
	}
	resp, err := http.Get("http://" + addrs[0] + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "home\n" {
		t.Fatalf("GET /: %q, want the -i index", body)
	}
	eventually(t, 5*time.Second, "the -l access log", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "access.log"))
		return strings.Contains(string(b), `"GET / HTTP/1.1" 200`)
	})
}

func TestPortforwardPortEndpoint(t *testing.T) {
	t.Parallel()
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	go func() {
		for {
			c, err := target.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	_, port, _ := net.SplitHostPort(target.Addr().String())
	s := start(t, t.TempDir(), nil, "-n", "--pidfile=", "portforward", "-p", "tcp:0:interface=127.0.0.1", "-h", "127.0.0.1", "-d", port)
	addrs := s.addrs()
	if len(addrs) != 1 || !strings.HasPrefix(addrs[0], "127.0.0.1:") {
		t.Fatalf("listening on %v", addrs)
	}
	echoRoundTrip(t, addrs[0], []byte("through the forward\n"))
}

// --profile FILE writes a profile of the whole run that go tool pprof reads.
func TestProfileFlag(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"cpu", "heap"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			s := start(t, dir, nil, "-n", "--pidfile=", "-p", "run.prof", "--profiler", kind, "echo", "--listen", "tcp:0:interface=127.0.0.1")
			echoRoundTrip(t, s.addrs()[0], []byte(strings.Repeat("x", 1<<16)))
			s.signal(syscall.SIGTERM)
			if code := s.wait(15 * time.Second); code != 0 {
				t.Fatalf("exit %d", code)
			}
			out, err := exec.Command("go", "tool", "pprof", "-top", binary, filepath.Join(dir, "run.prof")).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Type: ") {
				t.Fatalf("go tool pprof -top: %v\n%s", err, out)
			}
		})
	}
	r := twistd(t, t.TempDir(), nil, "-n", "--pidfile=", "--profiler", "gprof", "echo")
	if r.code != 2 || !strings.Contains(r.stderr, "--profiler") {
		t.Fatalf("bad --profiler: exit %d %q", r.code, r.stderr)
	}
}

// status and stop find the daemon of a file with a process: pidfile.
func TestStatusAndStopByFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "app/app.yaml", "process:\n  pidfile: app.pid\n  logfile: app.log\nservices:\n  - {type: echo, listen: 'tcp:0:interface=127.0.0.1'}\n")
	if r := twistd(t, dir, nil, "-c", "app/app.yaml"); r.code != 0 {
		t.Fatalf("start: exit %d %q", r.code, r.stderr)
	}
	elsewhere := t.TempDir()
	file := filepath.Join(dir, "app", "app.yaml")
	t.Cleanup(func() { twistd(t, dir, nil, "stop", "--pidfile", filepath.Join(dir, "app", "app.pid")) })
	if r := twistd(t, elsewhere, nil, "status", "-c", file); r.code != 0 || !strings.HasPrefix(r.stdout, "running (pid ") {
		t.Fatalf("status -c: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := twistd(t, elsewhere, nil, "stop", "-c", file); r.code != 0 || !strings.HasPrefix(r.stdout, "stopped") {
		t.Fatalf("stop -c: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := twistd(t, elsewhere, nil, "status", "-c", file); r.code != 3 {
		t.Fatalf("status -c after stop: exit %d %q", r.code, r.stdout)
	}
}
