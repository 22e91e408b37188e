package test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The supervision tests kill a running service's listening socket from
// outside the process (breakSocket) and watch what on_failure makes of it.

// TestOnFailureExit: the process logs the failure naming the service and
// the endpoint, drains, removes its pidfile and exits 1.
func TestOnFailureExit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := writeFile(t, dir, "app.yaml", `
services:
  - name: doomed
    type: echo
    listen: tcp:0:interface=127.0.0.1
    on_failure: exit
  - name: bystander
    type: echo
    listen: tcp:0:interface=127.0.0.1
`)
	pidfile := filepath.Join(dir, "twistd.pid")
	s := start(t, dir, nil, "-n", "--pidfile="+pidfile, "-c", app)
	addrs := s.addrs()
	echoRoundTrip(t, addrs[0], []byte("before"))
	if _, err := os.Stat(pidfile); err != nil {
		t.Fatalf("pidfile: %v", err)
	}
	breakSocket(t, s.cmd.Process.Pid, "tcp", addrs[0])
	if code := s.wait(15 * time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1:\n%s", code, s.output())
	}
	line := s.waitFor(`ERROR.*\[doomed\].*service failed`, time.Second)
	for _, want := range []string{"tcp:0:interface=127.0.0.1", addrs[0], "invalid argument"} {
		if !strings.Contains(line, want) {
			t.Errorf("failure line %q does not name %q", line, want)
		}
	}
	if n := len(regexp.MustCompile(`ERROR.*service failed`).FindAllString(s.output(), -1)); n != 1 {
		t.Errorf("%d error lines say the service failed, want 1", n)
	}
	s.waitFor(`shutdown complete`, time.Second)
	if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
		t.Errorf("pidfile left behind after the exit: %v", err)
	}
}

// TestOnFailureRestart: with the default on_failure (restart) the service
// shows failed in /status and the metrics, /readyz says 503, and after
// its backoff it answers again on the same port.
func TestOnFailureRestart(t *testing.T) {
	// Serial: the restart binds the port the kernel chose at start again,
	// and beside parallel tests an outgoing connection's ephemeral local
	// port can take it in the meantime (seen: "address already in use"
	// on every retry).
	dir := t.TempDir()
	app := writeFile(t, dir, "app.yaml", `
admin:
  listen: tcp:0:interface=127.0.0.1
services:
  - name: echo
    type: echo
    listen: tcp:0:interface=127.0.0.1
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	a := s.addrs()
	base, addr := "http://"+a[0], a[1]
	echoRoundTrip(t, addr, []byte("before"))

	breakSocket(t, s.cmd.Process.Pid, "tcp", addr)
	// Failed for the backoff (1s), then restarted: either way the status
	// keeps the error and counts the failure.
	sawFailed := false
	eventually(t, 10*time.Second, "the failure in /status", func() bool {
		st := getStatus(t, base)
		if st.Services[0].State == "failed" {
			sawFailed = true
			if code, _, _ := httpGet(t, base+"/readyz"); code != 503 && getStatus(t, base).Services[0].State == "failed" {
				t.Errorf("/readyz %d while a service is failed, want 503", code)
			}
		}
		return st.Services[0].Failures == 1 && strings.Contains(st.Services[0].Error, "invalid argument")
	})
	line := s.waitFor(`ERROR.*\[echo\].*service failed; restarting in 1s`, 5*time.Second)
	if !strings.Contains(line, "tcp:0:interface=127.0.0.1") || !strings.Contains(line, addr) {
		t.Errorf("failure line %q does not name the endpoint %s", line, addr)
	}
	s.waitFor(`\[echo\].*service restarted`, 10*time.Second)
	st := getStatus(t, base)
	if svc := st.Services[0]; svc.State != "running" || svc.Restarts != 1 || svc.Listeners[0].Address != addr {
		t.Fatalf("after the restart: %+v (saw failed: %v)", svc, sawFailed)
	}
	echoRoundTrip(t, addr, []byte("after"))
	if code, _, _ := httpGet(t, base+"/readyz"); code != 200 {
		t.Errorf("/readyz %d after the restart, want 200", code)
	}
	_, body, _ := httpGet(t, base+"/metrics")
	for _, want := range []string{
		`twistd_service_failures_total{service="echo"} 1`,
		`twistd_service_restarts_total{service="echo"} 1`,
		`twistd_service_up{service="echo"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The new socket is a healthy one: break it again and it comes back again.
	breakSocket(t, s.cmd.Process.Pid, "tcp", addr)
	s.waitFor(`service failed; restarting in 2s`, 5*time.Second)
	eventually(t, 15*time.Second, "the second restart", func() bool { return getStatus(t, base).Services[0].Restarts == 2 })
	echoRoundTrip(t, addr, []byte("again"))
	s.signal(15)
	if code := s.wait(15 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	if regexp.MustCompile(`listening on`).FindAllString(s.output(), -1) == nil {
		t.Error("no listening lines")
	}
}
