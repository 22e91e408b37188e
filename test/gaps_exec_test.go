package test

import (
	"bufio"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// execSeries is the twistd_exec_* lines of /metrics for a service.
func execSeries(t *testing.T, admin, svc string) []string {
	t.Helper()
	_, body, _ := httpGet(t, "http://"+admin+"/metrics")
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "twistd_exec_") && strings.Contains(l, `service="`+svc+`"`) {
			out = append(out, l)
		}
	}
	return out
}

// execHello connects to an exec service whose program says hi and stays.
func execHello(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if l, err := bufio.NewReader(c).ReadString('\n'); err != nil || l != "hi\n" {
		t.Fatalf("program said %q, %v", l, err)
	}
	return c
}

// A reload that removes or renames an exec service drops its series from
// /metrics once it has stopped; a changed one counts on in the same series.
func TestGapsExecMetricsFollowReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const prog = `[/bin/sh, -c, 'echo hi; exec sleep 30']`
	app := writeFile(t, dir, "app.yaml", `
admin: {listen: 'tcp:0:interface=127.0.0.1'}
services:
  - name: old
    type: exec
    listen: tcp:0:interface=127.0.0.1
    command: `+prog+`
  - name: keep
    type: exec
    listen: tcp:0:interface=127.0.0.1
    command: `+prog+`
    max_instances: 5
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	a := s.addrs()
	admin := a[0]
	execHello(t, a[1])
	execHello(t, a[2])
	metricsHas(t, admin, `twistd_exec_running{service="old"} 1`)
	metricsHas(t, admin, `twistd_exec_running{service="keep"} 1`)

	writeFile(t, dir, "app.yaml", `
admin: {listen: 'tcp:0:interface=127.0.0.1'}
services:
  - name: renamed
    type: exec
    listen: tcp:0:interface=127.0.0.1
    command: `+prog+`
  - name: keep
    type: exec
    listen: `+a[2]+`
    command: `+prog+`
    max_instances: 6
`)
	s.signal(syscall.SIGHUP)
	s.waitFor(`reload succeeded`, 10*time.Second)
	eventually(t, 10*time.Second, `no twistd_exec_ series of the removed service "old"`, func() bool {
		return len(execSeries(t, admin, "old")) == 0
	})
	// The replaced instance of keep has stopped (its program got TERM):
	// the new one's programs count in the same series, from where it was.
	metricsHas(t, admin, `twistd_exec_running{service="keep"} 0`)
	execHello(t, a[2])
	metricsHas(t, admin, `twistd_exec_running{service="keep"} 1`)
	metricsHas(t, admin, `twistd_exec_started_total{service="keep"} 2`)
	if got := execSeries(t, admin, "old"); len(got) != 0 {
		t.Fatalf("stale series of a removed service: %v", got)
	}
}
