package test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// daemon starts twistd detached in dir and returns its pid once the
// parent has exited 0 (so every listener is bound and every service started).
func daemon(t *testing.T, dir string, args ...string) int {
	t.Helper()
	r := twistd(t, dir, nil, args...)
	if r.code != 0 {
		t.Fatalf("daemon start exited %d: %s%s", r.code, r.stdout, r.stderr)
	}
	pid := readPid(t, filepath.Join(dir, "twistd.pid"))
	t.Cleanup(func() {
		if syscall.Kill(pid, 0) == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return pid
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("pidfile: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pidfile holds %q", b)
	}
	return pid
}

// logAddr reads the first "listening on" address from a log file.
func logAddr(t *testing.T, logfile string) string {
	t.Helper()
	f, err := os.Open(logfile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	re := regexp.MustCompile(`listening on (\S+)`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			return m[1]
		}
	}
	t.Fatalf("no listening line in %s", logfile)
	return ""
}

func TestDaemonStatusStop(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pid := daemon(t, dir, "echo", "--listen", "tcp:0:interface=127.0.0.1")
	if pid == os.Getpid() || !alive(pid) {
		t.Fatalf("pid %d from the pidfile is not a live daemon", pid)
	}
	// Daemonized: logs go to twistd.log in the directory it was started from.
	addr := logAddr(t, filepath.Join(dir, "twistd.log"))
	echoRoundTrip(t, addr, []byte("daemon echo\n"))

	st := twistd(t, dir, nil, "status")
	if st.code != 0 || strings.TrimSpace(st.stdout) != fmt.Sprintf("running (pid %d)", pid) {
		t.Fatalf("status: code %d, %q", st.code, st.stdout)
	}
	stop := twistd(t, dir, nil, "stop")
	if stop.code != 0 {
		t.Fatalf("stop: code %d: %s%s", stop.code, stop.stdout, stop.stderr)
	}
	if alive(pid) {
		t.Fatalf("pid %d still alive after stop returned", pid)
	}
	if _, err := os.Stat(filepath.Join(dir, "twistd.pid")); !os.IsNotExist(err) {
		t.Fatalf("pidfile left behind after stop: %v", err)
	}
	st = twistd(t, dir, nil, "status")
	if st.code != 3 || strings.TrimSpace(st.stdout) != "not running" {
		t.Fatalf("status after stop: code %d, %q", st.code, st.stdout)
	}
	if r := twistd(t, dir, nil, "stop"); r.code != 0 {
		t.Fatalf("stop when not running: code %d, want 0", r.code)
	}
	if r := twistd(t, dir, nil, "reload"); r.code != 3 {
		t.Fatalf("reload when not running: code %d, want 3", r.code)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "twistd.log"))
	for _, want := range []string{"twistd starting", "ready", "SIGTERM", "shutdown complete"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

func TestDaemonUmaskDefault(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pid := daemon(t, dir, "echo", "--listen", "tcp:0:interface=127.0.0.1")
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^Umask:\s+0077$`).Match(status) {
		t.Fatalf("daemon umask is not 0077:\n%s", status)
	}
	twistd(t, dir, nil, "stop")
}

func TestPidfileCollision(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pid := daemon(t, dir, "echo", "--listen", "tcp:0:interface=127.0.0.1")
	for _, args := range [][]string{
		{"echo", "--listen", "tcp:0:interface=127.0.0.1"},       // daemonized
		{"-n", "echo", "--listen", "tcp:0:interface=127.0.0.1"}, // foreground
	} {
		r := twistd(t, dir, nil, args...)
		want := fmt.Sprintf("another twistd is running (pid %d, pidfile %s)", pid, filepath.Join(dir, "twistd.pid"))
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Fatalf("%v: code %d, stderr %q; want 1 and %q", args, r.code, r.stderr, want)
		}
	}
	if got := readPid(t, filepath.Join(dir, "twistd.pid")); got != pid {
		t.Fatalf("pidfile now holds %d, want the running %d", got, pid)
	}
	twistd(t, dir, nil, "stop")
}

func TestStalePidfile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidfile := writeFile(t, dir, "twistd.pid", "999999\n")
	st := twistd(t, dir, nil, "status")
	want := "not running, stale pidfile " + pidfile
	if st.code != 1 || strings.TrimSpace(st.stdout) != want {
		t.Fatalf("status: code %d, %q; want 1, %q", st.code, st.stdout, want)
	}
	// A pidfile naming a live process that does not hold the lock is stale too.
	writeFile(t, dir, "twistd.pid", strconv.Itoa(os.Getpid())+"\n")
	pid := daemon(t, dir, "echo", "--listen", "tcp:0:interface=127.0.0.1")
	log, _ := os.ReadFile(filepath.Join(dir, "twistd.log"))
	if !strings.Contains(string(log), "stale pidfile") {
		t.Fatalf("no stale-pidfile warning in the log:\n%s", log)
	}
	if st := twistd(t, dir, nil, "status"); st.code != 0 || !strings.Contains(st.stdout, strconv.Itoa(pid)) {
		t.Fatalf("status: code %d, %q", st.code, st.stdout)
	}
	twistd(t, dir, nil, "stop")
}

func TestBindFailureLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	app := writeFile(t, dir, "app.yaml", fmt.Sprintf(`
services:
  - name: first
    type: echo
    listen: tcp:0:interface=127.0.0.1
  - name: second
    type: echo
    listen: tcp:%d:interface=127.0.0.1
`, port))
	for _, args := range [][]string{{"-c", app}, {"-n", "-c", app}} {
		r := twistd(t, dir, nil, args...)
		if r.code != 1 {
			t.Fatalf("%v: exit %d, want 1 (stderr %q)", args, r.code, r.stderr)
		}
		for _, want := range []string{"app.yaml:6:5", `service "second"`, fmt.Sprintf("tcp:%d:interface=127.0.0.1", port), "address already in use"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%v: error lacks %q: %q", args, want, r.stderr)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "twistd.pid")); !os.IsNotExist(err) {
			t.Fatalf("%v: pidfile left behind: %v", args, err)
		}
	}
}

func TestUIDDrop(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("needs root to bind a privileged port and switch user")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	// Find a free privileged port (none is fixed: we probe).
	port := 0
	for p := 900; p < 1000; p++ {
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			l.Close()
			port = p
			break
		}
	}
	if port == 0 {
		t.Fatal("no free port below 1024")
	}
	s := start(t, dir, nil, "-n", "--pidfile=", "-u", "nobody", "-g", "nogroup", "echo",
		"--listen", fmt.Sprintf("tcp:%d:interface=127.0.0.1", port))
	echoRoundTrip(t, s.addrs()[0], []byte("as nobody"))
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	uid := regexp.MustCompile(`(?m)^Uid:\s+(\d+)\s+(\d+)\s+(\d+)`).FindSubmatch(status)
	if uid == nil || string(uid[1]) != "65534" || string(uid[2]) != "65534" || string(uid[3]) != "65534" {
		t.Fatalf("daemon is not running as nobody:\n%s", status)
	}
	s.signal(syscall.SIGTERM)
	if code := s.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// alive reports whether pid runs (a zombie nobody reaped yet has exited).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || (b[i+2] != 'Z' && b[i+2] != 'X')
}

func TestChroot(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("chroot needs root")
	}
	dir := t.TempDir()
	jail := filepath.Join(dir, "jail")
	os.Mkdir(jail, 0o755)
	s := start(t, dir, nil, "-n", "--pidfile=", "--chroot", "jail", "echo", "--listen", "tcp:0:interface=127.0.0.1")
	root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", s.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if root != jail {
		t.Fatalf("daemon root is %s, want %s", root, jail)
	}
	echoRoundTrip(t, s.addrs()[0], []byte("from the jail"))
}

func TestReloadWaitsForTheVerdict(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := writeFile(t, dir, "app.yaml", "services:\n  - {type: echo, listen: 'tcp:0:interface=127.0.0.1'}\n")
	pid := daemon(t, dir, "-c", app)
	addr := logAddr(t, filepath.Join(dir, "twistd.log"))

	if r := twistd(t, dir, nil, "reload"); r.code != 0 || !strings.Contains(r.stdout, "reloaded") {
		t.Fatalf("reload of a valid file: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	writeFile(t, dir, "app.yaml", "services:\n  - {type: echo, listen: 'tcp:0:interface=127.0.0.1', bogus: 1}\n")
	r := twistd(t, dir, nil, "reload")
	if r.code != 1 || !strings.Contains(r.stderr, `unknown key "bogus"`) || !strings.Contains(r.stderr, "app.yaml:2:") {
		t.Fatalf("reload of an invalid file: exit %d, stderr %q", r.code, r.stderr)
	}
	// Still running the previous configuration.
	echoRoundTrip(t, addr, []byte("after a failed reload"))
	if !alive(pid) {
		t.Fatal("the daemon died on a failed reload")
	}
	twistd(t, dir, nil, "stop")
	if _, err := os.Stat(filepath.Join(dir, "twistd.pid.state")); !os.IsNotExist(err) {
		t.Fatalf("reload verdict file left behind: %v", err)
	}
}
