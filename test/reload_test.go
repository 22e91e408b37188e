package test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// reloadTo rewrites the application file, sends SIGHUP and waits for the
// n-th reload verdict; it returns the verdict's log line.
func reloadTo(t *testing.T, s *server, app, content string, n int) string {
	t.Helper()
	if err := os.WriteFile(app, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	s.signal(syscall.SIGHUP)
	var line string
	eventually(t, 10*time.Second, fmt.Sprintf("reload verdict #%d", n), func() bool {
		count := 0
		for _, l := range strings.Split(s.output(), "\n") {
			if strings.Contains(l, "reload succeeded") || strings.Contains(l, "reload failed") {
				count++
				line = l
			}
		}
		return count >= n
	})
	return line
}

const webApp = `
admin:
  listen: tcp:0:interface=127.0.0.1
services:
  - name: site
    type: web
    listen: tcp:0:interface=127.0.0.1
    path: ./public
    add_headers: {X-Generation: "%d"}
  - name: echo
    type: echo
    listen: tcp:0:interface=127.0.0.1
`

// Ten reloads of a changed web service on the same endpoint during a load
// run: no request is refused or fails, and each generation takes over.
func TestReloadUnderLoadRefusesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "public/index.html", "<h1>hello</h1>\n")
	app := writeFile(t, dir, "app.yaml", fmt.Sprintf(webApp, 0))
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	addrs := s.addrs()
	base, siteURL, echoAddr := "http://"+addrs[0], "http://"+addrs[1]+"/", addrs[2]

	// An echo connection open across every reload: its service is unchanged.
	keep, err := net.Dial("tcp", echoAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	echoOn(t, keep, "before")

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(keepAlive bool) {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second,
				Transport: &http.Transport{DisableKeepAlives: !keepAlive}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(siteURL)
				if err == nil {
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				ok.Add(1)
			}
		}(w%2 == 0)
	}
	for gen := 1; gen <= 10; gen++ {
		// Load flows through every reload: requests before it and after.
		before := ok.Load()
		eventually(t, 5*time.Second, "requests under load", func() bool { return ok.Load() >= before+5 })
		if line := reloadTo(t, s, app, fmt.Sprintf(webApp, gen), gen); !strings.Contains(line, "succeeded") {
			t.Fatalf("reload %d: %s", gen, line)
		}
		eventually(t, 5*time.Second, "the new generation serving", func() bool {
			resp, err := http.Get(siteURL)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.Header.Get("X-Generation") == fmt.Sprint(gen)
		})
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed across 10 reloads; first: %v", failed.Load(), ok.Load()+failed.Load(), firstErr.Load())
	}
	if ok.Load() < 50 {
		t.Fatalf("only %d requests in the load run", ok.Load())
	}
	echoOn(t, keep, "after ten reloads")
	if got := s.addrs(); got[1] != addrs[1] {
		t.Fatalf("the web service moved from %s to %s", addrs[1], got[1])
	}
	st := getStatus(t, base)
	if st.LastReload == nil || st.LastReload.Result != "ok" {
		t.Fatalf("last_reload %+v", st.LastReload)
	}
	_, metrics, _ := httpGet(t, base+"/metrics")
	if !strings.Contains(metrics, `twistd_reloads_total{result="ok"} 10`) {
		t.Fatal("twistd_reloads_total did not count 10 reloads")
	}
}

func TestReloadAddsRemovesAndKeepsOnFailure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	two := "admin: {listen: 'tcp:0:interface=127.0.0.1'}\nservices:\n" +
		"  - {name: a, type: echo, listen: 'tcp:0:interface=127.0.0.1'}\n" +
		"  - {name: b, type: echo, listen: 'tcp:0:interface=127.0.0.1'}\n"
	app := writeFile(t, dir, "app.yaml", two)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	addrs := s.addrs()
	base, aAddr, bAddr := "http://"+addrs[0], addrs[1], addrs[2]

	// Remove b, add c.
	line := reloadTo(t, s, app, "admin: {listen: 'tcp:0:interface=127.0.0.1'}\nservices:\n"+
		"  - {name: a, type: echo, listen: 'tcp:0:interface=127.0.0.1'}\n"+
		"  - {name: c, type: tcp, protocol: daytime, listen: 'tcp:0:interface=127.0.0.1'}\n", 1)
	if !strings.Contains(line, "succeeded") {
		t.Fatal(line)
	}
	eventually(t, 5*time.Second, "b to stop", func() bool {
		c, err := net.DialTimeout("tcp", bAddr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	echoRoundTrip(t, aAddr, []byte("a is untouched"))
	st := getStatus(t, base)
	var names []string
	for _, svc := range st.Services {
		names = append(names, svc.Name)
	}
	if strings.Join(names, ",") != "a,c" {
		t.Fatalf("services after reload: %v", names)
	}

	// An invalid file: nothing changes, the failure is reported.
	line = reloadTo(t, s, app, "services: [{name: a, type: echo, listen: 'tcp:0', bogus: 1}]\n", 2)
	if !strings.Contains(line, "failed") || !strings.Contains(line, "bogus") {
		t.Fatalf("invalid reload: %s", line)
	}
	echoRoundTrip(t, aAddr, []byte("still a"))

	// A valid file whose new service cannot start: nothing changes either.
	busy, _ := net.Listen("tcp", "127.0.0.1:0")
	defer busy.Close()
	line = reloadTo(t, s, app, fmt.Sprintf("admin: {listen: 'tcp:0:interface=127.0.0.1'}\nservices:\n"+
		"  - {name: a, type: echo, listen: 'tcp:0:interface=127.0.0.1'}\n"+
		"  - {name: d, type: echo, listen: '%s'}\n", busy.Addr()), 3)
	if !strings.Contains(line, "failed") || !strings.Contains(line, "address already in use") {
		t.Fatalf("reload onto a busy port: %s", line)
	}
	st = getStatus(t, base)
	if len(st.Services) != 2 || st.LastReload == nil || st.LastReload.Result != "failed" || !strings.Contains(st.LastReload.Error, `service "d"`) {
		t.Fatalf("status after a failed reload: %+v", st)
	}
	echoRoundTrip(t, aAddr, []byte("a survives"))
}

func TestReloadAppliesLogLevelLive(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	svc := "services:\n  - {type: echo, listen: 'tcp:0:interface=127.0.0.1', policies: {max_connections: 1}}\n"
	app := writeFile(t, dir, "app.yaml", svc)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	reloadTo(t, s, app, "process: {log_level: debug, pidfile: other.pid}\n"+svc, 1)
	s.waitFor("log level changed", 5*time.Second)
	s.waitFor(`process setting changed; it applies at the next start.*pidfile`, 5*time.Second)
	// Debug lines now appear: a refused connection is logged at debug level.
	addr := s.addrs()[0]
	c1, _ := net.Dial("tcp", addr)
	defer c1.Close()
	echoOn(t, c1, "x")
	c2, _ := net.Dial("tcp", addr)
	defer c2.Close()
	s.waitFor("connection refused", 5*time.Second)
	if _, err := os.Stat(filepath.Join(dir, "other.pid")); err == nil {
		t.Fatal("a pidfile change applied without a restart")
	}
}

// Under systemd there is no pidfile: `twistd reload --pid $MAINPID -c app`
// learns the verdict from the admin endpoint.
func TestReloadThroughAdminEndpoint(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	adminPort := freePort(t)
	good := fmt.Sprintf("admin: {listen: 'tcp:%d:interface=127.0.0.1'}\nservices:\n  - type: echo\n    listen: tcp:0:interface=127.0.0.1\n", adminPort)
	app := writeFile(t, dir, "app.yaml", good)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	pid := fmt.Sprint(s.cmd.Process.Pid)
	if r := twistd(t, dir, nil, "reload", "--pid", pid, "-c", app); r.code != 0 || !strings.Contains(r.stdout, "reloaded") {
		t.Fatalf("reload: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	writeFile(t, dir, "app.yaml", good+"    bogus: 1\n")
	if r := twistd(t, dir, nil, "reload", "--pid", pid, "-c", "app.yaml"); r.code != 1 || !strings.Contains(r.stderr, "bogus") {
		t.Fatalf("failed reload: exit %d, %q", r.code, r.stderr)
	}
	if r := twistd(t, dir, nil, "reload", "--pid", "999999", "-c", "app.yaml"); r.code != 3 {
		t.Fatalf("reload of a pid that is gone: exit %d", r.code)
	}
}
