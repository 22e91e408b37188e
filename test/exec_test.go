package test

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ncLine sends line the way `printf 'line\n' | nc -q1 HOST PORT` does and
// returns everything the program answers.
func ncLine(t *testing.T, addr, line string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("nc", "-q1", host, port)
	cmd.Stdin = strings.NewReader(line)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nc %s: %v", addr, err)
	}
	return string(out)
}

// childrenOf returns the pids of pid's children.
func childrenOf(t *testing.T, pid int) []int {
	t.Helper()
	var out []int
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(b)) {
			n, _ := strconv.Atoi(s)
			out = append(out, n)
		}
	}
	return out
}

// procState is the state letter of pid ("" when it is gone).
func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

// gone waits until pid no longer exists: exited and reaped, no zombie.
func gone(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	eventually(t, within, "pid "+strconv.Itoa(pid)+" exited and reaped (state now "+procState(pid)+")", func() bool {
		return procState(pid) == ""
	})
}

func TestExecInetdRevOverNc(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("nc"); err != nil {
		t.Skip("nc not installed")
	}
	dir := t.TempDir()
	conf := writeFile(t, dir, "inetd.conf", `# a comment
127.0.0.1:0 stream tcp nowait nobody /usr/bin/rev rev
daytime dgram udp wait root internal
127.0.0.1:0 stream tcp nowait root internal
`)
	writeFile(t, dir, "inetd.conf", `# a comment
127.0.0.1:0 stream tcp nowait nobody /usr/bin/rev rev
daytime dgram udp wait root internal
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "inetd", "--file", conf)
	s.waitFor(regexpQuote(conf)+`:3: skipped: daytime dgram`, 5*time.Second)
	addr := s.addrs()[0]
	if got := ncLine(t, addr, "hello\n"); got != "olleh\n" {
		t.Fatalf("rev over nc answered %q, want %q", got, "olleh\n")
	}
	// An internal service is chosen by its name; a bare port names none.
	writeFile(t, dir, "inetd.conf", "127.0.0.1:0 stream tcp nowait root internal\n")
	r := twistd(t, dir, nil, "-n", "--pidfile=", "inetd", "--file", conf)
	if r.code != 2 || !strings.Contains(r.stderr, conf+":1: skipped: 127.0.0.1:0: internal service not provided") ||
		!strings.Contains(r.stderr, "no stream tcp nowait service") {
		t.Fatalf("exit %d, stderr %q; want 2, line 1 skipped, nothing to serve", r.code, r.stderr)
	}
}

func regexpQuote(s string) string {
	return strings.NewReplacer(`.`, `\.`, `/`, `/`, `+`, `\+`, `(`, `\(`, `)`, `\)`).Replace(s)
}

// The program's environment is ucspi-tcp's four variables, env: and PATH:
// nothing of twistd's; its descriptors are 0, 1 and 2 and no more, 0 and
// 1 the socket itself; it runs as user:.
func TestExecEnvironmentAndDescriptors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := writeFile(t, dir, "app.yaml", `
services:
  - name: env
    type: exec
    listen: tcp:0:interface=127.0.0.1
    command: [/usr/bin/env]
    env: {GREETING: hello}
  - name: sleeper
    type: exec
    listen: tcp:0:interface=127.0.0.1
    command: [/bin/sleep, "30"]
    user: nobody
`)
	s := start(t, dir, []string{"TWISTD_SECRET=leak"}, "-n", "--pidfile=", "-c", app)
	a := s.addrs()
	c, err := net.Dial("tcp", a[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	raw, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Split(strings.TrimSpace(string(raw)), "\n")
	sort.Strings(env)
	local, remote := c.LocalAddr().(*net.TCPAddr), c.RemoteAddr().(*net.TCPAddr)
	wantEnv := []string{"GREETING=hello", "PATH=/usr/local/bin:/usr/bin:/bin",
		"TCPLOCALIP=127.0.0.1", "TCPLOCALPORT=" + strconv.Itoa(remote.Port),
		"TCPREMOTEIP=127.0.0.1", "TCPREMOTEPORT=" + strconv.Itoa(local.Port)}
	if strings.Join(env, "\n") != strings.Join(wantEnv, "\n") {
		t.Fatalf("the program's environment:\n%s\nwant:\n%s", strings.Join(env, "\n"), strings.Join(wantEnv, "\n"))
	}

	c2, err := net.Dial("tcp", a[1])
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	// The exec of /bin/sleep shows in cmdline a moment before the kernel
	// closes the close-on-exec descriptors, so the listing is polled: a
	// descriptor that leaks stays, and the poll times out on it.
	var pid int
	var names []string
	var logged string
	eventually(t, 5*time.Second, "the sleeper to run with descriptors 0 1 2 only", func() bool {
		kids := childrenOf(t, s.cmd.Process.Pid)
		if len(kids) != 1 {
			return false
		}
		pid = kids[0]
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if !strings.HasPrefix(string(b), "/bin/sleep") {
			return false
		}
		fds, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
		if err != nil {
			return false
		}
		names = names[:0]
		for _, f := range fds {
			names = append(names, f.Name())
		}
		if got := strings.Join(names, " "); got != "0 1 2" {
			if got != logged {
				t.Logf("the program has descriptors %s, want 0 1 2 only", got)
				logged = got
			}
			return false
		}
		return true
	})
	for _, fd := range []string{"0", "1"} {
		if l, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + fd); !strings.HasPrefix(l, "socket:") {
			t.Fatalf("fd %s is %q, want the socket", fd, l)
		}
	}
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(st), "\nUid:\t65534\t") {
		t.Fatalf("the program does not run as nobody:\n%s", st)
	}
	syscall.Kill(pid, syscall.SIGTERM)
	gone(t, pid, 5*time.Second)
}

// Beyond max_instances a connection is refused like a policy refusal, and
// counted; stderr lines are log lines tagged with the service.
func TestExecMaxInstancesAndStderr(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := writeFile(t, dir, "app.yaml", `
admin: {listen: 'tcp:0:interface=127.0.0.1'}
services:
  - name: one
    type: exec
    listen: tcp:0:interface=127.0.0.1
    command: [/bin/sh, -c, 'echo to-stderr-$TCPREMOTEPORT >&2; echo hi; exec sleep 30']
    max_instances: 1
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	a := s.addrs()
	admin, addr := "http://"+a[0], a[1]
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	first.SetDeadline(time.Now().Add(10 * time.Second))
	if line, err := bufio.NewReader(first).ReadString('\n'); err != nil || line != "hi\n" {
		t.Fatalf("first connection: %q, %v", line, err)
	}
	s.waitFor(`\[one\]\s+to-stderr-`+strconv.Itoa(first.LocalAddr().(*net.TCPAddr).Port), 5*time.Second)
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	second.SetDeadline(time.Now().Add(10 * time.Second))
	if b, err := io.ReadAll(second); err != nil || len(b) != 0 {
		t.Fatalf("second connection beyond max_instances: read %q, %v; want a close", b, err)
	}
	s.waitFor(`connection refused.*"reason": "max_instances"`, 5*time.Second)
	eventually(t, 5*time.Second, "the refusal counted", func() bool {
		_, m, _ := httpGet(t, admin+"/metrics")
		return strings.Contains(m, `twistd_connections_refused_total{reason="max_instances",service="one"} 1`) &&
			strings.Contains(m, `twistd_exec_running{service="one"} 1`)
	})
	// Once the first program ends, its slot is free again.
	kids := childrenOf(t, s.cmd.Process.Pid)
	if len(kids) != 1 {
		t.Fatalf("children %v, want one", kids)
	}
	syscall.Kill(kids[0], syscall.SIGKILL)
	gone(t, kids[0], 5*time.Second)
	eventually(t, 5*time.Second, "a new connection served", func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		return line == "hi\n"
	})
}

// On stop the programs get TERM, and KILL at the shutdown timeout; every
// one is reaped before twistd exits.
func TestExecStopTermsThenKills(t *testing.T) {
	dir := t.TempDir()
	app := writeFile(t, dir, "app.yaml", `
process: {shutdown_timeout: 1s}
services:
  - name: polite
    type: exec
    listen: tcp:0:interface=127.0.0.1
    command: [/bin/sh, -c, 'echo up; exec sleep 30']
  - name: stubborn
    type: exec
    listen: tcp:0:interface=127.0.0.1
    command: [/bin/sh, -c, 'trap "" TERM; echo up; while :; do sleep 0.1; done']
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	for _, addr := range s.addrs() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if line, _ := bufio.NewReader(c).ReadString('\n'); line != "up\n" {
			t.Fatalf("%s: %q", addr, line)
		}
	}
	kids := childrenOf(t, s.cmd.Process.Pid)
	if len(kids) != 2 {
		t.Fatalf("children %v, want two", kids)
	}
	began := time.Now()
	s.signal(syscall.SIGTERM)
	if code := s.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	took := time.Since(began)
	if took < 900*time.Millisecond || took > 5*time.Second {
		t.Fatalf("stop took %s; want about the 1s shutdown timeout (TERM ignored, then KILL)", took)
	}
	for _, pid := range kids {
		if st := procState(pid); st != "" {
			t.Fatalf("pid %d left behind in state %s", pid, st)
		}
	}
	s.waitFor(`\[stubborn\].*still running at the shutdown timeout; killed`, time.Second)
}

// Policies and allow/deny apply before the fork: a denied peer never
// starts a program.
func TestExecDenyBeforeFork(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := writeFile(t, dir, "app.yaml", `
services:
  - name: nope
    type: exec
    listen: tcp:0:interface=127.0.0.1
    command: [/bin/sh, -c, 'echo forked']
    deny: [127.0.0.0/8]
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	c, err := net.Dial("tcp", s.addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if b, _ := io.ReadAll(c); len(b) != 0 {
		t.Fatalf("a denied peer got %q", b)
	}
	if kids := childrenOf(t, s.cmd.Process.Pid); len(kids) != 0 {
		t.Fatalf("a denied peer started %v", kids)
	}
}

// Behind a PROXY header the program sees the client the header names.
func TestExecBehindProxyHeader(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := writeFile(t, dir, "app.yaml", `
services:
  - name: who
    type: exec
    listen: 'haproxy:tcp:0:interface=127.0.0.1'
    command: [/bin/sh, -c, 'echo "$TCPREMOTEIP $TCPREMOTEPORT"; read line; echo "got $line"']
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	c, err := net.Dial("tcp", s.addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("PROXY TCP4 192.0.2.7 127.0.0.1 40000 7\r\n"))
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || line != "192.0.2.7 40000\n" {
		t.Fatalf("the program saw %q, %v", line, err)
	}
	c.Write([]byte("after\n"))
	if line, err := r.ReadString('\n'); err != nil || line != "got after\n" {
		t.Fatalf("the program read %q, %v", line, err)
	}
	// The header and the client's first bytes in one segment, as a
	// balancer sends them: the bytes after the header reach the program.
	c2, err := net.Dial("tcp", s.addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetDeadline(time.Now().Add(10 * time.Second))
	c2.Write([]byte("PROXY TCP4 192.0.2.8 127.0.0.1 40001 7\r\ntogether\n"))
	out, err := io.ReadAll(c2)
	if err != nil || string(out) != "192.0.2.8 40001\ngot together\n" {
		t.Fatalf("header and data in one write: the program answered %q, %v", out, err)
	}
}

func TestExecCheckErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "key.pem", "x")
	app := writeFile(t, dir, "app.yaml", `services:
  - name: udp
    type: exec
    listen: udp:7000
    command: [/no/such/program]
  - name: who
    type: exec
    listen: tcp:7001
    command: [rev]
    user: no-such-user-here
    max_instances: 0
  - name: empty
    type: exec
    listen: tcp:7002
    command: []
  - name: tls
    type: exec
    listen: 'ssl:7003:privateKey=key.pem'
    command: [/usr/bin/rev]
`)
	r := twistd(t, dir, nil, "check", "-c", app)
	if r.code != 2 {
		t.Fatalf("check exit %d, want 2:\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		app + `:4:`, `not per datagram`,
		app + `:5:15: `, `"/no/such/program": no such file`,
		app + `:10:11: `, `no-such-user-here`,
		app + `:11:20: `, `max_instances must be at least 1`,
		app + `:15:14: `, `command: give the program`,
		app + `:18:`, `a program cannot be handed a TLS connection`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("check output lacks %q:\n%s", want, r.stderr)
		}
	}
}

// SIGHUP re-reads the inetd.conf, as inetd does: a line added starts, an
// unchanged one keeps serving.
func TestExecInetdReloadRereadsTheFile(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("nc"); err != nil {
		t.Skip("nc not installed")
	}
	dir := t.TempDir()
	conf := writeFile(t, dir, "inetd.conf", "127.0.0.1:0 stream tcp nowait nobody /usr/bin/rev rev\n")
	s := start(t, dir, nil, "-n", "--pidfile=", "inetd", "--file", conf)
	rev := s.addrs()[0]
	writeFile(t, dir, "inetd.conf", "127.0.0.1:0 stream tcp nowait nobody /usr/bin/rev rev\n127.0.0.2:0 stream tcp nowait nobody /bin/cat cat\n")
	s.signal(syscall.SIGHUP)
	s.waitFor(`reload applied.*"kept": 1, "started": 1`, 5*time.Second)
	a := s.addrs()
	if len(a) != 2 || a[0] != rev {
		t.Fatalf("listeners after the reload: %v", a)
	}
	if got := ncLine(t, a[1], "meow\n"); got != "meow\n" {
		t.Fatalf("the added cat answered %q", got)
	}
	if got := ncLine(t, rev, "abc\n"); got != "cba\n" {
		t.Fatalf("the kept rev answered %q", got)
	}
}

// The exec one-liner takes the program after --.
func TestExecOneLiner(t *testing.T) {
	t.Parallel()
	s := start(t, t.TempDir(), nil, "-n", "--pidfile=", "exec", "--listen", "tcp:0:interface=127.0.0.1",
		"--env", "WHO=world", "--", "/bin/sh", "-c", `echo "hello $WHO"`)
	c, err := net.Dial("tcp", s.addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if b, err := io.ReadAll(c); err != nil || string(b) != "hello world\n" {
		t.Fatalf("got %q, %v", b, err)
	}
	r := twistd(t, t.TempDir(), nil, "-n", "--pidfile=", "exec", "--port", "0")
	if r.code != 2 || !strings.Contains(r.stderr, "give the program to run") {
		t.Fatalf("exec without a program: exit %d, %q", r.code, r.stderr)
	}
}
