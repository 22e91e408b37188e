package test

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Twisted's procmon flags by their short names too (-t -k -m -M), the
// command without "--" (Twisted's "twistd procmon sleep 10"), and the
// process keys of the file type as flags: --cwd, --env, --user, --group.
func TestGapsProcmonOneLinerFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A working directory nobody can reach (t.TempDir's parents are 0700).
	work, err := os.MkdirTemp("", "twistd-gaps-procmon-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	if err := os.Chmod(work, 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"-n", "--pidfile=", "procmon", "-t", "0.5", "-k", "0.5", "-m", "0.2", "-M", "2",
		"--cwd", work, "--env", "GREETING=hi", "--env", "OTHER=x=y"}
	asRoot := os.Geteuid() == 0
	if asRoot {
		args = append(args, "--user", "nobody", "--group", "nogroup")
	}
	args = append(args, "sh", "-c", `echo "$GREETING $OTHER from $(pwd) as $(id -un):$(id -gn)"; exec sleep 30`)
	s := start(t, dir, nil, args...)
	want := `\[procmon/sh\]\s+hi x=y from ` + regexpQuote(work) + ` as `
	if asRoot {
		want += `nobody:nogroup`
	}
	s.waitFor(want, 5*time.Second)
	began := time.Now()
	s.signal(syscall.SIGTERM)
	if code := s.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if d := time.Since(began); d > 3*time.Second {
		t.Fatalf("stop took %s", d)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--cwd", "missing", "sh"}, `--cwd missing: no such directory`},
		{[]string{"--env", "NOEQUALS", "sh"}, `--env NOEQUALS: want NAME=VALUE`},
		{[]string{"--user", "no-such-user-here", "sh"}, `--user no-such-user-here: `},
		{[]string{"-k", "0", "sh"}, `--killtime 0: want a positive number of seconds`},
	} {
		r := twistd(t, dir, nil, append([]string{"-n", "--pidfile=", "procmon"}, c.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, want 2 and %q in:\n%s", c.args, r.code, c.want, r.stderr)
		}
	}
}

// restartsOf is the twistd_process_restarts_total value of a process, -1
// when /metrics has no such series.
func restartsOf(t *testing.T, admin, process string) int {
	t.Helper()
	_, body, _ := httpGet(t, admin+"/metrics")
	prefix := `twistd_process_restarts_total{process="` + process + `",service="pm"} `
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return -1
}

// A process a reload removes leaves /metrics once its instance stopped;
// one that stays counts on in its series.
func TestGapsProcmonRestartSeriesFollowReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := procmonApp(t, dir, `      - {name: dropped, command: [/bin/sh, -c, "exit 1"]}
      - {name: stays, command: [/bin/sh, -c, "exit 1"]}
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	admin := "http://" + s.addrs()[0]
	eventually(t, 10*time.Second, "both restarted", func() bool {
		return restartsOf(t, admin, "dropped") >= 1 && restartsOf(t, admin, "stays") >= 1
	})
	procmonApp(t, dir, `      - {name: stays, command: [/bin/sh, -c, "exit 1"]}
      - {name: added, command: [/bin/sleep, "300"]}
`)
	s.signal(syscall.SIGHUP)
	s.waitFor(`reload applied`, 5*time.Second)
	eventually(t, 10*time.Second, `no series for the removed process "dropped"`, func() bool {
		return restartsOf(t, admin, "dropped") == -1
	})
	was := restartsOf(t, admin, "stays")
	if was < 1 {
		t.Fatalf("the series of the process kept was dropped: %d", was)
	}
	eventually(t, 10*time.Second, `"stays" counting on`, func() bool {
		return restartsOf(t, admin, "stays") > was
	})
	if n := restartsOf(t, admin, "dropped"); n != -1 {
		t.Fatalf("the removed process's series came back: %d", n)
	}
}
