// Package test drives the real twistd binary over sockets, signals and
// files, the way a user and an operator would.
package test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the twistd built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "twistd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Others may run it, as from /usr/bin: a daemon that switched users
	// starts it again on an upgrade.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "twistd")
	build := exec.Command("go", "build", "-o", binary, "../cmd/twistd")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building twistd:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// reactorUnderTest is the reactor the binary runs with in this pass of the
// suite: make test runs it once by default and once with
// TWISTD_REACTOR=goroutines, which every twistd started here inherits.
func reactorUnderTest() string {
	if r := os.Getenv("TWISTD_REACTOR"); r != "" {
		return r
	}
	return "epoll"
}

// result is a finished twistd command.
type result struct {
	code           int
	stdout, stderr string
}

// twistd runs a command to completion in dir (with a time limit).
func twistd(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("twistd %v did not finish in 30s", args)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
}

// server is a foreground twistd whose log (stdout) the test reads.
type server struct {
	t     *testing.T
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	more  chan struct{}
	done  chan struct{}
	code  int
}

// start runs twistd in the foreground (-n, no pidfile unless args say so)
// and waits until it logs "ready" (or exits).
func start(t *testing.T, dir string, env []string, args ...string) *server {
	t.Helper()
	s := startNoWait(t, dir, env, args...)
	s.waitFor(`\bready\b`, 15*time.Second)
	return s
}

func startNoWait(t *testing.T, dir string, env []string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	return startCmd(t, cmd)
}

// startCmd starts cmd and collects its output (stdout and stderr) line by
// line; the process is killed at the end of the test if still running.
func startCmd(t *testing.T, cmd *exec.Cmd) *server {
	t.Helper()
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
		sc.Buffer(make([]byte, 1<<20), 1<<20)
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
			t.Logf("output of %s:\n%s", cmd.Path, s.output())
		}
	})
	return s
}

func (s *server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

// waitFor waits until a log line matches pattern and returns it.
func (s *server) waitFor(pattern string, within time.Duration) string {
	s.t.Helper()
	re := regexp.MustCompile(pattern)
	deadline := time.After(within)
	seen := 0
	for {
		s.mu.Lock()
		lines := s.lines[seen:]
		seen = len(s.lines)
		s.mu.Unlock()
		for _, l := range lines {
			if re.MatchString(l) {
				return l
			}
		}
		select {
		case <-s.more:
		case <-s.done:
			// Drain what was read before the exit.
			s.mu.Lock()
			rest := s.lines[seen:]
			s.mu.Unlock()
			for _, l := range rest {
				if re.MatchString(l) {
					return l
				}
			}
			s.t.Fatalf("twistd exited (code %d) before logging %q:\n%s", s.code, pattern, s.output())
		case <-deadline:
			s.t.Fatalf("no log line matching %q within %s:\n%s", pattern, within, s.output())
		}
	}
}

// addrs returns the real addresses from the "listening on" lines, in order.
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
		s.t.Fatalf("twistd still running after %s:\n%s", within, s.output())
	}
	return -1
}

// writeFile writes a file under dir and returns its path.
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

// eventually polls cond until it holds or the time is up.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// echoRoundTrip sends msg over TCP and checks the same bytes come back.
func echoRoundTrip(t *testing.T, addr string, msg []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	go c.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("reading echo from %s: %v", addr, err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo from %s differs from what was sent", addr)
	}
}

// jsonLines parses every line of a JSON log, failing on any that is not an object.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", l, err)
		}
		objs = append(objs, m)
	}
	return objs
}
