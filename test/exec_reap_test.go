package test

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A program that exits while something it started keeps its stderr open
// is still reaped at once: its slot frees, the last stderr line it wrote
// is logged, and the program is no zombie.
func TestExecReapedWhileAGrandchildHoldsStderr(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := writeFile(t, dir, "app.yaml", `
admin: {listen: 'tcp:0:interface=127.0.0.1'}
services:
  - name: bg
    type: exec
    listen: tcp:0:interface=127.0.0.1
    command: [/bin/sh, -c, 'echo bye-$TCPREMOTEPORT >&2; sleep 30 <&- >&- & echo $$; exit 3']
    max_instances: 1
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	a := s.addrs()
	admin, addr := "http://"+a[0], a[1]
	var pids []int
	for i := 0; i < 2; i++ {
		var line string
		// The second connection needs the first program's slot: it is
		// served only once that program has been reaped.
		eventually(t, 5*time.Second, "connection "+strconv.Itoa(i+1)+" served", func() bool {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				return false
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			line, _ = bufio.NewReader(c).ReadString('\n')
			if line == "" {
				return false
			}
			s.waitFor(`\[bg\]\s+bye-`+strconv.Itoa(c.LocalAddr().(*net.TCPAddr).Port), 5*time.Second)
			return true
		})
		pid, err := strconv.Atoi(strings.TrimSpace(line))
		if err != nil {
			t.Fatalf("the program printed %q, want its pid", line)
		}
		pids = append(pids, pid)
		gone(t, pid, 5*time.Second)
	}
	eventually(t, 5*time.Second, "no program running", func() bool {
		_, m, _ := httpGet(t, admin+"/metrics")
		return strings.Contains(m, `twistd_exec_running{service="bg"} 0`) &&
			strings.Contains(m, `twistd_exec_started_total{service="bg"} 2`)
	})
	// The sleeps (their own process group's) are twistd's grandchildren
	// no more: reparented, still running, and killed here.
	for _, pid := range pids {
		syscall.Kill(-pid, syscall.SIGKILL)
	}
}
