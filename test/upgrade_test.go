package test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// upgradeApp writes an application with a web site, an echo service on
// TCP and UDP, a DNS service and the admin endpoint, all on port 0.
func upgradeApp(t *testing.T, dir string) string {
	t.Helper()
	writeFile(t, dir, "public/index.html", "hello\n")
	writeFile(t, dir, "hosts", "192.0.2.7 up.example.test\n")
	return writeFile(t, dir, "app.yaml", `admin: {listen: "tcp:0:interface=127.0.0.1"}
process: {shutdown_timeout: 20s}
services:
  - name: site
    type: web
    listen: tcp:0:interface=127.0.0.1
    path: ./public
  - name: echo
    type: echo
    listen: [tcp:0:interface=127.0.0.1, udp:0:interface=127.0.0.1]
  - name: names
    type: dns
    listen: udp:0:interface=127.0.0.1
    hosts_file: ./hosts
`)
}

// upgraded runs `twistd upgrade` and returns the new pid from its output.
func upgraded(t *testing.T, dir, pidfile string, args ...string) int {
	t.Helper()
	r := twistd(t, dir, nil, append([]string{"upgrade", "--pidfile", pidfile}, args...)...)
	if r.code != 0 {
		t.Fatalf("twistd upgrade exited %d: %s%s", r.code, r.stdout, r.stderr)
	}
	m := regexp.MustCompile(`^upgraded: pid (\d+) \(was \d+\)\n$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("twistd upgrade printed %q", r.stdout)
	}
	pid, _ := strconv.Atoi(m[1])
	t.Cleanup(func() { killPid(pid) })
	return pid
}

// killPidfile kills whatever process the pidfile names: a successor
// holds the old one's standard output, which the test's reader waits on.
func killPidfile(pidfile string) {
	if b, err := os.ReadFile(pidfile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			killPid(pid)
		}
	}
}

func killPid(pid int) {
	if syscall.Kill(pid, 0) == nil {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// checkServing checks that the web, echo and dns services answer on addrs
// (site, echo tcp, echo udp, names).
func checkServing(t *testing.T, addrs []string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addrs[0] + "/")
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello\n" {
		t.Fatalf("GET: %s %q", resp.Status, body)
	}
	echoRoundTrip(t, addrs[1], []byte("tcp ping"))
	uc, err := net.Dial("udp", addrs[2])
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	uc.SetDeadline(time.Now().Add(3 * time.Second))
	uc.Write([]byte("udp ping"))
	buf := make([]byte, 64)
	if n, err := uc.Read(buf); err != nil || string(buf[:n]) != "udp ping" {
		t.Fatalf("udp echo: %q %v", buf[:n], err)
	}
	if a := dnsAsk(t, "udp", addrs[3], "up.example.test.", dns.TypeA); len(a.Answer) != 1 {
		t.Fatalf("dns: %s", dnsSummary(a))
	}
}

// serviceAddrs are the site, echo tcp, echo udp and names addresses from
// a log's "listening on" lines (the admin endpoint's first).
func serviceAddrs(t *testing.T, addrs []string) []string {
	t.Helper()
	if len(addrs) < 5 {
		t.Fatalf("want 5 listening lines, got %v", addrs)
	}
	return addrs[1:5]
}

// heldEcho opens an echo connection the old process will serve until it
// is closed: its drain waits for it, so both processes run meanwhile.
func heldEcho(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	roundTrip(t, c, "before")
	return c
}

func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo on the held connection: %q %v", buf, err)
	}
}

// checkBothRun checks the state while the old process drains: the
// pidfile names the new one, PIDFILE.oldbin the old one.
func checkBothRun(t *testing.T, dir, pidfile string, oldPid, newPid int) {
	t.Helper()
	if got := readPid(t, pidfile); got != newPid {
		t.Fatalf("pidfile holds %d, want the new pid %d", got, newPid)
	}
	if got := readPid(t, pidfile+".oldbin"); got != oldPid {
		t.Fatalf("%s.oldbin holds %d, want the old pid %d", pidfile, got, oldPid)
	}
	if !alive(oldPid) || !alive(newPid) {
		t.Fatalf("old %d alive %v, new %d alive %v", oldPid, alive(oldPid), newPid, alive(newPid))
	}
	if r := twistd(t, dir, nil, "status", "--pidfile", pidfile); r.code != 0 || r.stdout != fmt.Sprintf("running (pid %d)\n", newPid) {
		t.Fatalf("status: %d %q", r.code, r.stdout)
	}
}

// checkOldGone waits for the old process to exit and checks what it left.
func checkOldGone(t *testing.T, dir, pidfile string, oldPid, newPid int) {
	t.Helper()
	eventually(t, 10*time.Second, "the old process exits", func() bool { return !alive(oldPid) })
	eventually(t, 5*time.Second, "PIDFILE.oldbin is removed", func() bool {
		_, err := os.Stat(pidfile + ".oldbin")
		return os.IsNotExist(err)
	})
	if got := readPid(t, pidfile); got != newPid {
		t.Fatalf("pidfile holds %d, want %d", got, newPid)
	}
	if r := twistd(t, dir, nil, "status", "--pidfile", pidfile); r.code != 0 || r.stdout != fmt.Sprintf("running (pid %d)\n", newPid) {
		t.Fatalf("status: %d %q", r.code, r.stdout)
	}
}

func TestUpgradeForeground(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := upgradeApp(t, dir)
	pidfile := filepath.Join(dir, "t.pid")
	s := start(t, dir, nil, "-n", "--pidfile", pidfile, "-c", app)
	t.Cleanup(func() { killPidfile(pidfile) })
	addrs := serviceAddrs(t, s.addrs())
	oldPid := s.cmd.Process.Pid
	held := heldEcho(t, addrs[1])

	newPid := upgraded(t, dir, pidfile)
	if newPid == oldPid {
		t.Fatal("the pid did not change")
	}
	checkBothRun(t, dir, pidfile, oldPid, newPid)
	// The new process serves on the very addresses the old one had, port 0 or not.
	checkServing(t, addrs)
	roundTrip(t, held, "during the drain") // the old one finishes its own
	s.waitFor(`upgraded: the new process is ready; draining`, 5*time.Second)
	held.Close()
	// The old process's output is the new one's too, so its end shows
	// in its log, not as the end of its output.
	s.waitFor(`shutdown complete`, 10*time.Second)
	checkOldGone(t, dir, pidfile, oldPid, newPid)
	checkServing(t, addrs)

	// The successor can itself be upgraded, and stopped as any daemon.
	third := upgraded(t, dir, pidfile)
	checkOldGone(t, dir, pidfile, newPid, third)
	checkServing(t, addrs)
	if r := twistd(t, dir, nil, "stop", "--pidfile", pidfile); r.code != 0 {
		t.Fatalf("stop: %d %s%s", r.code, r.stdout, r.stderr)
	}
	if alive(third) {
		t.Fatal("still running after stop")
	}
}

func TestUpgradeDaemon(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := upgradeApp(t, dir)
	pidfile := filepath.Join(dir, "twistd.pid")
	logfile := filepath.Join(dir, "twistd.log")
	oldPid := daemon(t, dir, "--logfile", logfile, "-c", app)
	addrs := serviceAddrs(t, logAddrs(t, logfile))
	held := heldEcho(t, addrs[1])

	newPid := upgraded(t, dir, pidfile)
	checkBothRun(t, dir, pidfile, oldPid, newPid)
	checkServing(t, addrs)
	roundTrip(t, held, "during the drain")
	held.Close()
	checkOldGone(t, dir, pidfile, oldPid, newPid)
	checkServing(t, addrs)
	// Both wrote to the same log; the new one is detached as the old was.
	log, _ := os.ReadFile(logfile)
	for _, want := range []string{fmt.Sprintf(`"pid": %d`, newPid), "upgraded: the new process is ready", "shutdown complete"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if sid, _ := unix.Getsid(newPid); sid != newPid {
		t.Errorf("the new daemon is not a session leader (sid %d)", sid)
	}
	if r := twistd(t, dir, nil, "stop", "--pidfile", pidfile); r.code != 0 {
		t.Fatalf("stop: %d %s%s", r.code, r.stdout, r.stderr)
	}
}

// logAddrs reads every "listening on" address from a log file.
func logAddrs(t *testing.T, logfile string) []string {
	t.Helper()
	b, err := os.ReadFile(logfile)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile(`listening on (\S+)`).FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	return out
}

func TestUpgradeFailureKeepsTheOldOne(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := upgradeApp(t, dir)
	pidfile := filepath.Join(dir, "t.pid")
	s := start(t, dir, nil, "-n", "--pidfile", pidfile, "-c", app)
	t.Cleanup(func() { killPidfile(pidfile) })
	addrs := serviceAddrs(t, s.addrs())
	oldPid := s.cmd.Process.Pid
	bad := writeFile(t, dir, "bad.sh", "#!/bin/sh\necho 'cannot start: no such thing' >&2\nexit 1\n")
	os.Chmod(bad, 0o755)
	good, _ := os.ReadFile(app)

	failing := func(what, wantErr string, args ...string) {
		t.Helper()
		r := twistd(t, dir, nil, append([]string{"upgrade", "--pidfile", pidfile}, args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, wantErr) {
			t.Fatalf("%s: twistd upgrade exited %d, want 1 with %q:\n%s%s", what, r.code, wantErr, r.stdout, r.stderr)
		}
		if _, err := os.Stat(pidfile + ".oldbin"); !os.IsNotExist(err) {
			t.Fatalf("%s: %s.oldbin left behind (%v)", what, pidfile, err)
		}
		if r := twistd(t, dir, nil, "status", "--pidfile", pidfile); r.stdout != fmt.Sprintf("running (pid %d)\n", oldPid) {
			t.Fatalf("%s: status says %q", what, r.stdout)
		}
		checkServing(t, addrs)
	}
	failing("a binary that exits 1", "cannot start: no such thing", "--binary", bad)
	failing("a binary that exits 1", "exit status 1", "--binary", bad)
	writeFile(t, dir, "app.yaml", string(good)+"bogus: 1\n")
	failing("an invalid application file", `unknown key "bogus"`)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	writeFile(t, dir, "app.yaml", string(good)+"  - name: clash\n    type: web\n    listen: tcp:"+
		strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)+":interface=127.0.0.1\n    path: ./public\n")
	failing("a service that cannot bind", "clash")
	os.Chmod(bad, 0o644)
	if r := twistd(t, dir, nil, "upgrade", "--pidfile", pidfile, "--binary", bad); r.code != 1 {
		t.Fatalf("a binary that is not executable: exit %d", r.code)
	}
	s.waitFor(`upgrade failed; still serving`, 5*time.Second)

	// Fixed, the same daemon upgrades.
	writeFile(t, dir, "app.yaml", string(good))
	newPid := upgraded(t, dir, pidfile)
	s.waitFor(`shutdown complete`, 10*time.Second)
	checkOldGone(t, dir, pidfile, oldPid, newPid)
	checkServing(t, addrs)
	twistd(t, dir, nil, "stop", "--pidfile", pidfile)
}

// TestUpgradeUnderLoad upgrades three times under HTTP load (keep-alive
// and a new connection per request) and a DNS query loop over UDP: not
// one request may fail, one query go unanswered, one connection be refused.
func TestUpgradeUnderLoad(t *testing.T) {
	dir := t.TempDir()
	app := upgradeApp(t, dir)
	pidfile := filepath.Join(dir, "t.pid")
	s := start(t, dir, nil, "-n", "--pidfile", pidfile, "--shutdown-timeout", "10s", "-c", app)
	t.Cleanup(func() { killPidfile(pidfile) })
	addrs := serviceAddrs(t, s.addrs())
	url := "http://" + addrs[0] + "/"

	var ok, failed, answered, unanswered atomic.Int64
	var errMu sync.Mutex
	var errs []string
	report := func(err error) {
		errMu.Lock()
		if len(errs) < 10 {
			errs = append(errs, err.Error())
		}
		errMu.Unlock()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		// Half keep their connections alive, as wrk does; half open a new
		// one for every request, as curl in a loop does.
		tr := &http.Transport{DisableKeepAlives: i%2 == 1, MaxIdleConnsPerHost: 1}
		c := &http.Client{Timeout: 5 * time.Second, Transport: tr}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer tr.CloseIdleConnections()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get(url)
				if err == nil {
					var body []byte
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && (resp.StatusCode != 200 || string(body) != "hello\n") {
						err = fmt.Errorf("GET: %s %q", resp.Status, body)
					}
				}
				if err != nil {
					failed.Add(1)
					report(err)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	for i := 0; i < 4; i++ {
		// Keep-alive clients that never retry a request, as wrk: a
		// connection closed between two requests fails one.
		wg.Add(1)
		go func() {
			defer wg.Done()
			var nc net.Conn
			defer func() {
				if nc != nil {
					nc.Close()
				}
			}()
			var br *bufio.Reader
			for {
				select {
				case <-stop:
					return
				default:
				}
				if nc == nil {
					var err error
					if nc, err = net.DialTimeout("tcp", addrs[0], 5*time.Second); err != nil {
						failed.Add(1)
						report(fmt.Errorf("keep-alive client: %v", err))
						continue
					}
					br = bufio.NewReader(nc)
				}
				_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
				resp, err := rawGet(nc, br)
				if err == nil && (resp.status != 200 || resp.body != "hello\n") {
					err = fmt.Errorf("%d %q", resp.status, resp.body)
				}
				if err != nil {
					failed.Add(1)
					report(fmt.Errorf("keep-alive client: %v", err))
				} else {
					ok.Add(1)
				}
				if err != nil || resp.close {
					nc.Close()
					nc = nil
				}
			}
		}()
	}
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
			m := new(dns.Msg)
			m.SetQuestion("up.example.test.", dns.TypeA)
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, _, err := c.Exchange(m, addrs[3])
				if err != nil || len(r.Answer) != 1 {
					unanswered.Add(1)
					report(fmt.Errorf("dns: %v", err))
					continue
				}
				answered.Add(1)
			}
		}()
	}
	waitRequests := func(n int64) {
		t.Helper()
		target := ok.Load() + n
		eventually(t, 20*time.Second, "requests get through", func() bool { return ok.Load() >= target })
	}
	waitRequests(200)
	oldPid := s.cmd.Process.Pid
	for i := 0; i < 3; i++ {
		newPid := upgraded(t, dir, pidfile)
		eventually(t, 15*time.Second, "the old process exits", func() bool { return !alive(oldPid) })
		waitRequests(200)
		oldPid = newPid
	}
	close(stop)
	wg.Wait()
	t.Logf("%d requests, %d failed; %d queries, %d unanswered", ok.Load(), failed.Load(), answered.Load(), unanswered.Load())
	if failed.Load() != 0 || unanswered.Load() != 0 {
		t.Fatalf("lost %d requests and %d queries in the upgrades: %v", failed.Load(), unanswered.Load(), errs)
	}
	twistd(t, dir, nil, "stop", "--pidfile", pidfile)
}

// rawResponse is what rawGet read.
type rawResponse struct {
	status int
	body   string
	close  bool
}

// rawGet sends one GET / on nc and reads its response, without any retry.
func rawGet(nc net.Conn, br *bufio.Reader) (rawResponse, error) {
	if _, err := io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return rawResponse{}, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return rawResponse{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return rawResponse{resp.StatusCode, string(body), resp.Close}, err
}

// After -u, an upgrade works as documented: the new process, started as
// that user in a directory it may write, serves on the passed sockets
// (the new one could not bind them), takes over the pidfile, logs to
// the same file, reloads, and removes the pidfile when it stops.
func TestUpgradeAfterPrivilegeDrop(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("switching users needs root")
	}
	dir := rootDir(t)
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	app := upgradeApp(t, dir)
	pidfile := filepath.Join(dir, "twistd.pid")
	logfile := filepath.Join(dir, "twistd.log")
	oldPid := daemon(t, dir, "-u", "nobody", "-g", "nogroup", "--logfile", logfile, "-c", app)
	addrs := serviceAddrs(t, logAddrs(t, logfile))

	newPid := upgraded(t, dir, pidfile)
	checkOldGone(t, dir, pidfile, oldPid, newPid)
	checkServing(t, addrs)
	if uid := procUID(t, newPid); uid != 65534 {
		t.Errorf("the new process runs as uid %d, want nobody's", uid)
	}
	log, _ := os.ReadFile(logfile)
	if want := fmt.Sprintf(`"pid": %d`, newPid); !strings.Contains(string(log), want) {
		t.Errorf("the new process did not log to %s:\n%s", logfile, log)
	}
	if r := twistd(t, dir, nil, "reload", "--timeout", "10s"); r.code != 0 {
		t.Errorf("reload of the new process: %d %s%s", r.code, r.stdout, r.stderr)
	}
	if r := twistd(t, dir, nil, "stop", "--pidfile", pidfile, "--timeout", "10s"); r.code != 0 {
		t.Fatalf("stop: %d %s%s", r.code, r.stdout, r.stderr)
	}
	for _, name := range []string{"twistd.pid", "twistd.pid.state", "twistd.pid.oldbin"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", name, err)
		}
	}
}

// procUID is the real uid of a process, from /proc.
func procUID(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^Uid:\s+(\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no Uid line in /proc/%d/status", pid)
	}
	uid, _ := strconv.Atoi(string(m[1]))
	return uid
}
