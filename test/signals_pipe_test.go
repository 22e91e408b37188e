package test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// metricValue reads one sample of a Prometheus text exposition: the first
// line that starts with name (labels included, if given) followed by a space.
func metricValue(t *testing.T, base, name string) float64 {
	t.Helper()
	code, body, _ := httpGet(t, base+"/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics: %d", code)
	}
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %q", name, l)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

// `twistd -n … | head -c 10`: once the reader is gone, each log line
// meets a broken pipe. The daemon must neither die of SIGPIPE nor stop
// serving; it counts the lost lines and still drains and cleans up on
// SIGTERM.
func TestSignalsSIGPIPEDoesNotKill(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := writeFile(t, dir, "app.yaml", `
admin:
  listen: tcp:0:interface=127.0.0.1
services:
  - name: echo
    type: echo
    listen: tcp:0:interface=127.0.0.1
`)
	pidfile := filepath.Join(dir, "twistd.pid")
	cmd := exec.Command(binary, "-n", "--pidfile", pidfile, "-c", app)
	cmd.Dir = dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			cmd.Process.Kill()
			<-done
		}
	})

	// Read up to "ready", then hang up as head does.
	var addrs []string
	re := regexp.MustCompile(`listening on (\S+)`)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			addrs = append(addrs, m[1])
		}
		if strings.Contains(sc.Text(), "ready") {
			break
		}
	}
	if len(addrs) != 2 {
		t.Fatalf("want the admin and echo addresses before ready, got %v (stderr %q)", addrs, stderr.String())
	}
	stdout.(*os.File).Close()
	base := "http://" + addrs[0]

	// Each SIGUSR1 logs lines, now into the broken pipe.
	for i := 0; i < 3; i++ {
		cmd.Process.Signal(syscall.SIGUSR1)
	}
	eventually(t, 5*time.Second, "failed log writes counted", func() bool {
		select {
		case <-done:
			t.Fatalf("twistd died: %v (stderr %q)", cmd.ProcessState, stderr.String())
		default:
		}
		return metricValue(t, base, "twistd_log_write_errors_total") >= 1
	})
	echoRoundTrip(t, addrs[1], []byte("still serving\n"))

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("twistd did not stop on SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit %v, want 0 (stderr %q)", cmd.ProcessState, stderr.String())
	}
	if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
		t.Fatalf("pidfile left behind: %v", err)
	}
	// The lost lines are counted, not each bemoaned on standard error.
	if n := strings.Count(stderr.String(), "write error"); n > 1 {
		t.Fatalf("%d write-error reports on stderr, want at most one:\n%s", n, stderr.String())
	}
}
