package test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

func httpGet(t *testing.T, url string, header ...string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// adminApp runs an echo service with an admin endpoint; it returns the
// server, the admin base URL and the echo address.
func adminApp(t *testing.T, extra ...string) (*server, string, string) {
	t.Helper()
	dir := t.TempDir()
	app := writeFile(t, dir, "app.yaml", `
admin:
  listen: tcp:0:interface=127.0.0.1
  pprof: true
services:
  - name: echo
    type: echo
    listen: tcp:0:interface=127.0.0.1
    policies: {max_connections: 1}
`)
	args := append([]string{"-n", "--pidfile=", "-c", app}, extra...)
	s := start(t, dir, nil, args...)
	a := s.addrs()
	return s, "http://" + a[0], a[1]
}

type statusDoc struct {
	PID           int     `json:"pid"`
	Version       string  `json:"version"`
	UptimeSeconds float64 `json:"uptime_seconds"`
	Config        string  `json:"config"`
	LastReload    *struct {
		Result, Error string
	} `json:"last_reload"`
	Services []struct {
		Name      string `json:"name"`
		Type      string `json:"type"`
		State     string `json:"state"`
		Listeners []struct {
			Network string `json:"network"`
			Address string `json:"address"`
		} `json:"listeners"`
		ConnectionsActive int64  `json:"connections_active"`
		ConnectionsTotal  int64  `json:"connections_total"`
		BytesIn           int64  `json:"bytes_in"`
		BytesOut          int64  `json:"bytes_out"`
		Error             string `json:"error"`
		Failures          int64  `json:"failures"`
		Restarts          int64  `json:"restarts"`
	} `json:"services"`
}

func getStatus(t *testing.T, base string) statusDoc {
	t.Helper()
	code, body, h := httpGet(t, base+"/status", "Accept", "application/json")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Fatalf("/status: %d %s", code, h.Get("Content-Type"))
	}
	var st statusDoc
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("/status JSON: %v\n%s", err, body)
	}
	return st
}

func TestAdminEndpoints(t *testing.T) {
	t.Parallel()
	s, base, echoAddr := adminApp(t)
	if code, body, _ := httpGet(t, base+"/healthz"); code != 200 {
		t.Fatalf("/healthz %d %q", code, body)
	}
	if code, _, _ := httpGet(t, base+"/readyz"); code != 200 {
		t.Fatalf("/readyz %d", code)
	}
	if code, _, _ := httpGet(t, base+"/nope"); code != 404 {
		t.Fatalf("unknown path: %d", code)
	}
	if code, body, _ := httpGet(t, base+"/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("pprof: %d", code)
	}

	st := getStatus(t, base)
	if st.PID != s.cmd.Process.Pid || st.Version == "" || st.LastReload != nil || len(st.Services) != 1 {
		t.Fatalf("status: %+v", st)
	}
	svc := st.Services[0]
	if svc.Name != "echo" || svc.Type != "echo" || svc.State != "running" || len(svc.Listeners) != 1 ||
		svc.Listeners[0].Network != "tcp" || svc.Listeners[0].Address != echoAddr {
		t.Fatalf("service: %+v", svc)
	}

	// Traffic moves the counters and the metrics.
	c, err := net.Dial("tcp", echoAddr)
	if err != nil {
		t.Fatal(err)
	}
	echoOn(t, c, "hello")
	// max_connections: 1 — a second connection is refused and counted.
	c2, _ := net.Dial("tcp", echoAddr)
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	c2.Read(make([]byte, 1))
	c2.Close()
	eventually(t, 5*time.Second, "counters", func() bool {
		st := getStatus(t, base)
		s := st.Services[0]
		return s.ConnectionsActive == 1 && s.ConnectionsTotal == 1 && s.BytesIn == 5 && s.BytesOut == 5
	})
	_, metrics, _ := httpGet(t, base+"/metrics")
	for _, want := range []string{
		`twistd_connections_accepted_total{service="echo"} 1`,
		`twistd_connections_active{service="echo"} 1`,
		`twistd_connections_refused_total{reason="max_connections",service="echo"} 1`,
		`twistd_bytes_received_total{service="echo"} 5`,
		`twistd_bytes_sent_total{service="echo"} 5`,
		`twistd_reloads_total{result="ok"} 0`,
		`twistd_build_info{version=`,
		`go_goroutines`, `process_resident_memory_bytes`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	c.Close()

	// The page for people.
	code, page, h := httpGet(t, base+"/status", "Accept", "text/html")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(page, "echo") ||
		strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Fatalf("status page: %d %s (must name the service and load no external assets)", code, h.Get("Content-Type"))
	}
}

// /readyz turns 503 as soon as a stop begins, and answers throughout the
// shutdown delay and the drain: the admin endpoint stops last.
func TestReadyzDuringStop(t *testing.T) {
	s, base, _ := adminApp(t, "--shutdown-delay", "1s")
	s.signal(syscall.SIGTERM)
	s.waitFor("stopping", 5*time.Second)
	if code, _, _ := httpGet(t, base+"/readyz"); code != 503 {
		t.Fatalf("/readyz during the stop: %d, want 503", code)
	}
	if code, _, _ := httpGet(t, base+"/healthz"); code != 200 {
		t.Fatalf("/healthz during the stop: %d, want 200", code)
	}
	if code := s.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

func TestAdminOnPublicAddressIsWarned(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := writeFile(t, dir, "app.yaml", "admin: {listen: 'tcp:0'}\nservices:\n  - {type: echo, listen: 'tcp:0:interface=127.0.0.1'}\n")
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	s.waitFor("non-loopback", 2*time.Second)

}
