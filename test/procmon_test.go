package test

import (
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// procStatus is one process in procmon's /status details.
type procStatus struct {
	Name     string `json:"name"`
	PID      int    `json:"pid"`
	State    string `json:"state"`
	Restarts int64  `json:"restarts"`
	LastExit string `json:"last_exit"`
}

// processes reads service's processes from /status.
func processes(t *testing.T, admin, service string) map[string]procStatus {
	t.Helper()
	_, body, _ := httpGet(t, admin+"/status", "Accept", "application/json")
	var st struct {
		Services []struct {
			Name    string `json:"name"`
			Details struct {
				Processes []procStatus `json:"processes"`
			} `json:"details"`
		} `json:"services"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("/status: %v\n%s", err, body)
	}
	out := map[string]procStatus{}
	for _, s := range st.Services {
		if s.Name == service {
			for _, p := range s.Details.Processes {
				out[p.Name] = p
			}
		}
	}
	return out
}

var logTime = regexp.MustCompile(`^(\S+Z)\s`)

func lineTime(t *testing.T, line string) time.Time {
	t.Helper()
	m := logTime.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no timestamp in %q", line)
	}
	ts, err := time.Parse("2006-01-02T15:04:05.000Z", m[1])
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// A child that keeps dying young is restarted after a delay that doubles
// from min_restart_delay up to max_restart_delay (the one-liner, flags in
// seconds); its output lines are ours, tagged [procmon/name].
func TestProcmonRestartsWithGrowingDelay(t *testing.T) {
	s := start(t, t.TempDir(), nil, "-n", "--pidfile=", "procmon", "--threshold", "1",
		"--minrestartdelay", "0.2", "--maxrestartdelay", "0.8", "--", "sh", "-c", "echo hello from $$; exit 3")
	s.waitFor(`\[procmon/sh\]\s+hello from \d+`, 5*time.Second)
	eventually(t, 10*time.Second, "six starts", func() bool {
		return strings.Count(s.output(), "process started") >= 6
	})
	var starts []time.Time
	for _, l := range strings.Split(s.output(), "\n") {
		if strings.Contains(l, "[procmon/sh]") && strings.Contains(l, "process started") {
			starts = append(starts, lineTime(t, l))
		}
	}
	want := []time.Duration{200, 400, 800, 800, 800}
	for i, w := range want {
		gap := starts[i+1].Sub(starts[i])
		if gap < w*time.Millisecond-5*time.Millisecond || gap > w*time.Millisecond+250*time.Millisecond {
			t.Fatalf("restart %d came %s after the start before, want about %dms (gaps should double to the max):\n%s",
				i+1, gap, w, s.output())
		}
	}
	if !strings.Contains(s.output(), `"status": "exit 3"`) {
		t.Fatal("the exit status is not logged")
	}
}

func procmonApp(t *testing.T, dir, processes string) string {
	return writeFile(t, dir, "app.yaml", `
admin: {listen: 'tcp:0:interface=127.0.0.1'}
services:
  - name: pm
    type: procmon
    threshold: 500ms
    kill_time: 500ms
    min_restart_delay: 100ms
    max_restart_delay: 1s
    processes:
`+processes)
}

// A child killed with SIGKILL comes back at once (it had stayed up past
// the threshold), and /status and the metrics count the restart.
func TestProcmonKilledChildComesBack(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := procmonApp(t, dir, `      - {name: sleeper, command: [/bin/sleep, "300"]}
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	admin := "http://" + s.addrs()[0]
	var first procStatus
	eventually(t, 5*time.Second, "the sleeper running", func() bool {
		first = processes(t, admin, "pm")["sleeper"]
		return first.State == "running" && first.PID > 0
	})
	time.Sleep(600 * time.Millisecond) // past the threshold: the next restart is immediate
	syscall.Kill(first.PID, syscall.SIGKILL)
	var again procStatus
	eventually(t, 5*time.Second, "the sleeper back with a new pid", func() bool {
		again = processes(t, admin, "pm")["sleeper"]
		return again.State == "running" && again.PID != first.PID && again.PID > 0
	})
	if again.Restarts != 1 || again.LastExit != "signal killed" {
		t.Fatalf("after a SIGKILL: %+v, want 1 restart and last_exit \"signal killed\"", again)
	}
	gone(t, first.PID, 5*time.Second)
	_, m, _ := httpGet(t, admin+"/metrics")
	if !strings.Contains(m, `twistd_process_restarts_total{process="sleeper",service="pm"} 1`) {
		t.Fatalf("restart not in the metrics:\n%s", grepLines(m, "twistd_process"))
	}
	_, page, _ := httpGet(t, admin+"/status")
	if !strings.Contains(page, "sleeper") {
		t.Fatal("the /status page does not show the process")
	}
}

// Stop sends TERM, then KILL after kill_time to a child that ignores TERM.
func TestProcmonStopTermsThenKills(t *testing.T) {
	dir := t.TempDir()
	app := procmonApp(t, dir, `      - {name: stubborn, command: [/bin/sh, -c, 'trap "" TERM; echo up; while :; do sleep 0.1; done']}
      - {name: polite, command: [/bin/sleep, "300"]}
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	admin := "http://" + s.addrs()[0]
	s.waitFor(`\[pm/stubborn\]\s+up`, 5*time.Second)
	var ps map[string]procStatus
	eventually(t, 5*time.Second, "both running", func() bool {
		ps = processes(t, admin, "pm")
		return ps["stubborn"].PID > 0 && ps["polite"].PID > 0
	})
	began := time.Now()
	s.signal(syscall.SIGTERM)
	if code := s.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if took := time.Since(began); took < 450*time.Millisecond || took > 3*time.Second {
		t.Fatalf("stop took %s, want about kill_time (500ms)", took)
	}
	for _, p := range ps {
		if st := procState(p.PID); st != "" {
			t.Fatalf("%s (pid %d) left behind in state %s", p.Name, p.PID, st)
		}
	}
	s.waitFor(`\[pm/stubborn\].*still running after kill_time; killing it`, time.Second)
	if strings.Contains(s.output(), "[pm/polite]  process still running") {
		t.Fatal("the polite process was killed, not stopped by TERM")
	}
}

// A reload restarts only the processes whose settings changed, starts
// added ones and stops removed ones; the others keep their pid.
func TestProcmonReloadRestartsOnlyChanged(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := procmonApp(t, dir, `      - {name: keep, command: [/bin/sleep, "300"]}
      - {name: change, command: [/bin/sleep, "300"]}
      - {name: remove, command: [/bin/sleep, "300"]}
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	admin := "http://" + s.addrs()[0]
	var before map[string]procStatus
	eventually(t, 5*time.Second, "three running", func() bool {
		before = processes(t, admin, "pm")
		return before["keep"].PID > 0 && before["change"].PID > 0 && before["remove"].PID > 0
	})
	procmonApp(t, dir, `      - {name: keep, command: [/bin/sleep, "300"]}
      - {name: change, command: [/bin/sleep, "301"]}
      - {name: add, command: [/bin/sleep, "300"]}
`)
	s.signal(syscall.SIGHUP)
	s.waitFor(`reload applied`, 5*time.Second)
	var after map[string]procStatus
	eventually(t, 5*time.Second, "the new set running", func() bool {
		after = processes(t, admin, "pm")
		return len(after) == 3 && after["keep"].PID > 0 && after["change"].PID > 0 && after["add"].PID > 0 &&
			after["change"].PID != before["change"].PID
	})
	if after["keep"].PID != before["keep"].PID || after["keep"].State != "running" {
		t.Fatalf("the unchanged process was restarted: %+v then %+v", before["keep"], after["keep"])
	}
	gone(t, before["change"].PID, 5*time.Second)
	gone(t, before["remove"].PID, 5*time.Second)
	if procState(before["keep"].PID) == "" {
		t.Fatal("the unchanged process is gone")
	}
	cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(after["change"].PID) + "/cmdline")
	if !strings.Contains(string(cmd), "301") {
		t.Fatalf("the changed process runs %q", cmd)
	}
}

// twistd's own death by SIGKILL leaves no child running.
func TestProcmonChildrenDieWithTwistd(t *testing.T) {
	t.Parallel()
	s := start(t, t.TempDir(), nil, "-n", "--pidfile=", "procmon", "--", "/bin/sleep", "300")
	var pid int
	eventually(t, 5*time.Second, "the child", func() bool {
		kids := childrenOf(t, s.cmd.Process.Pid)
		if len(kids) == 1 {
			pid = kids[0]
		}
		return pid > 0
	})
	s.signal(syscall.SIGKILL)
	s.wait(5 * time.Second)
	gone(t, pid, 5*time.Second)
}

func TestProcmonCheckErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := writeFile(t, dir, "app.yaml", `services:
  - name: pm
    type: procmon
    listen: tcp:7000
    max_restart_delay: 0s
    processes:
      - {name: a, command: [/no/such/program]}
      - {name: a, command: [/bin/true], user: no-such-user-here}
      - {name: "bad/name", command: []}
`)
	r := twistd(t, dir, nil, "check", "-c", app)
	if r.code != 2 {
		t.Fatalf("check exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		app + `:4:13: `, `listens nowhere`,
		app + `:5:24: `, `max_restart_delay must be positive`,
		app + `:7:29: `, `"/no/such/program": no such file`,
		app + `:8:16: `, `two processes of that name`,
		app + `:8:47: `, `no-such-user-here`,
		app + `:9:16: `, `"bad/name"`,
		app + `:9:37: `, `command: give the program`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("check output lacks %q:\n%s", want, r.stderr)
		}
	}
	r = twistd(t, dir, nil, "-n", "--pidfile=", "procmon")
	if r.code != 2 || !strings.Contains(r.stderr, "give the command to supervise") {
		t.Fatalf("procmon without a command: exit %d, %q", r.code, r.stderr)
	}
}
