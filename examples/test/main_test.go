// Package test drives mytwistd — twistd with the examples' plugins — over
// sockets and signals, as the root module's test/ drives bin/twistd: the
// examples are a user's module, so they build and test on their own.
package test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is mytwistd, built once for the package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mytwistd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "mytwistd")
	build := exec.Command("go", "build", "-o", binary, "../cmd/mytwistd")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building mytwistd:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run runs a mytwistd command to completion and returns its exit code and output.
func run(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("mytwistd %v did not finish in 30s", args)
	}
	if err != nil && cmd.ProcessState == nil {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// server is a foreground mytwistd whose log the test reads.
type server struct {
	t     *testing.T
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	more  chan struct{}
	done  chan struct{}
	code  int
}

// start runs mytwistd in the foreground and waits until it logs "ready".
func start(t *testing.T, dir string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"-n", "--pidfile="}, args...)...)
	cmd.Dir = dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, more: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			s.mu.Lock()
			s.lines = append(s.lines, sc.Text())
			s.mu.Unlock()
			select {
			case s.more <- struct{}{}:
			default:
			}
		}
		cmd.Wait()
		s.code = cmd.ProcessState.ExitCode()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			t.Logf("output of mytwistd:\n%s", s.output())
		}
	})
	s.waitFor(`\bready\b`, 15*time.Second)
	return s
}

func (s *server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

// count returns how many log lines match pattern.
func (s *server) count(pattern string) int {
	re := regexp.MustCompile(pattern)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, l := range s.lines {
		if re.MatchString(l) {
			n++
		}
	}
	return n
}

// waitFor waits until n log lines in all match pattern.
func (s *server) waitForN(pattern string, n int, within time.Duration) {
	s.t.Helper()
	deadline := time.After(within)
	for s.count(pattern) < n {
		select {
		case <-s.more:
		case <-s.done:
			if s.count(pattern) >= n {
				return
			}
			s.t.Fatalf("mytwistd exited (code %d) before logging %q", s.code, pattern)
		case <-deadline:
			s.t.Fatalf("no log line matching %q within %s", pattern, within)
		}
	}
}

func (s *server) waitFor(pattern string, within time.Duration) {
	s.t.Helper()
	s.waitForN(pattern, 1, within)
}

// addrs returns the real addresses of the "listening on" lines, in order.
func (s *server) addrs() []string {
	re := regexp.MustCompile(`listening on (\S+)`)
	var out []string
	for _, l := range strings.Split(s.output(), "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

func (s *server) signal(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
}

// wait waits for the process to exit and returns its code.
func (s *server) wait(within time.Duration) int {
	s.t.Helper()
	select {
	case <-s.done:
		return s.code
	case <-time.After(within):
		s.t.Fatalf("mytwistd still running after %s", within)
	}
	return -1
}

// chatClient is one TCP chat client.
type chatClient struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialChat(t *testing.T, addr string) *chatClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &chatClient{t: t, c: c, br: bufio.NewReader(c)}
}

func (c *chatClient) say(line string) {
	c.t.Helper()
	c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.c.Write([]byte(line + "\n")); err != nil {
		c.t.Fatal(err)
	}
}

// expect reads lines until one equals want, failing after 5 s or at EOF.
func (c *chatClient) expect(want string) {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var seen []string
	for {
		l, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("waiting for %q (after %q): %v", want, seen, err)
		}
		l = strings.TrimRight(l, "\r\n")
		if l == want {
			return
		}
		seen = append(seen, l)
	}
}

// expectEOF reads until the server closes the connection.
func (c *chatClient) expectEOF() {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, err := c.br.ReadString('\n'); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				c.t.Fatal("the server did not close the connection")
			}
			return
		}
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func itoa(n int) string { return strconv.Itoa(n) }
