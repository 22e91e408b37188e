package test

import (
	"encoding/json"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// seriesDoc is /status/series.
type seriesDoc struct {
	Step     float64   `json:"step_seconds"`
	Points   int       `json:"points"`
	Times    []float64 `json:"times"`
	Services []struct {
		Name     string     `json:"name"`
		Type     string     `json:"type"`
		RateUnit string     `json:"rate_unit"`
		Rate     []*float64 `json:"rate"`
		Active   []*float64 `json:"connections_active"`
		In       []*float64 `json:"bytes_in_per_second"`
		Out      []*float64 `json:"bytes_out_per_second"`
		Errors   []*float64 `json:"errors_per_second"`
		P50      []*float64 `json:"latency_p50_ms"`
		P99      []*float64 `json:"latency_p99_ms"`
		Floor    float64    `json:"latency_floor_ms"`
	} `json:"services"`
}

func getSeries(t *testing.T, admin string) seriesDoc {
	t.Helper()
	code, body, h := httpGet(t, "http://"+admin+"/status/series")
	if code != 200 || h.Get("Content-Type") != "application/json" {
		t.Fatalf("/status/series: %d %s\n%s", code, h.Get("Content-Type"), body)
	}
	var d seriesDoc
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("/status/series: %v\n%s", err, body)
	}
	return d
}

// maxOf is the largest non-null value of a series (-1 if none).
func maxOf(vals []*float64) float64 {
	m := -1.0
	for _, v := range vals {
		if v != nil && *v > m {
			m = *v
		}
	}
	return m
}

// integral sums each point's rate times the time since the point before
// (each point's rate is over that time); the first point is left out.
// Times are in ms and rates rounded, so the sum is within about 1%.
func integral(times []float64, rates []*float64) float64 {
	sum := 0.0
	for i := 1; i < len(times); i++ {
		if rates[i] != nil {
			sum += *rates[i] * (times[i] - times[i-1])
		}
	}
	return sum
}

// TestStatusSeries drives traffic at echo and web services and reads the
// admin endpoint's time series: request, connection, byte and error
// rates, open connections and web latency quantiles all show it; a
// failed reload shows in /status's recent reloads and error lines.
func TestStatusSeries(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "www/index.html", "<h1>hello</h1>\n")
	good := `
admin:
  listen: tcp:0:interface=127.0.0.1
services:
  - name: echo
    type: echo
    listen: tcp:0:interface=127.0.0.1
    policies: {max_connections: 1}
  - name: site
    type: web
    listen: tcp:0:interface=127.0.0.1
    path: ./www
`
	app := writeFile(t, dir, "app.yaml", good)
	s := start(t, dir, []string{"TWISTD_STATUS_STEP=200ms"}, "-n", "--pidfile=", "-c", app)
	admin, echo, site := s.addrOf("_admin"), s.addrOf("echo"), s.addrOf("site")

	// A first point with both services, before any traffic: the rates
	// after it, times the gaps between points, then add up exactly.
	eventually(t, 5*time.Second, "a first point with both services", func() bool {
		d := getSeries(t, admin)
		return len(d.Times) > 0 && len(d.Services) == 2
	})
	// One echo connection held open, a second refused by max_connections.
	held, err := net.DialTimeout("tcp", echo, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	held.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := held.Write([]byte("held\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(held, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", echo, 5*time.Second); err == nil {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.Read(make([]byte, 1))
		c.Close()
	}
	for range 20 {
		httpGet(t, "http://"+site+"/")
	}
	httpGet(t, "http://"+site+"/missing")

	var d seriesDoc
	deadline := time.Now().Add(10 * time.Second)
	for {
		d = getSeries(t, admin)
		if len(d.Services) == 2 && maxOf(d.Services[1].Rate) > 0 && maxOf(d.Services[0].Errors) > 0 &&
			maxOf(d.Services[1].P50) > 0 {
			break
		}
		if time.Now().After(deadline) {
			_, body, _ := httpGet(t, "http://"+admin+"/status/series")
			t.Fatalf("the series never showed the traffic:\n%s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d.Step != 0.2 || d.Points != 180 || len(d.Times) == 0 || len(d.Times) > 180 {
		t.Fatalf("shape: step %v, %d points, %d times", d.Step, d.Points, len(d.Times))
	}
	for i := 1; i < len(d.Times); i++ {
		if gap := d.Times[i] - d.Times[i-1]; gap < 0.1 || gap > 2 {
			t.Errorf("points %d and %d are %.3f s apart at a 0.2 s step", i-1, i, gap)
		}
	}
	e, w := d.Services[0], d.Services[1]
	if e.Name != "echo" || e.Type != "echo" || e.RateUnit != "connections" || e.P50 != nil {
		t.Errorf("echo: %s %s %s, latency %v", e.Name, e.Type, e.RateUnit, e.P50)
	}
	if w.Name != "site" || w.RateUnit != "requests" || w.Floor != 5 {
		t.Errorf("site: %s %s floor %v", w.Name, w.RateUnit, w.Floor)
	}
	for _, f := range [][]*float64{e.Rate, e.Active, e.In, e.Out, e.Errors, w.Rate, w.In, w.Out, w.P50, w.P99} {
		if len(f) != len(d.Times) {
			t.Fatalf("a series has %d values for %d times", len(f), len(d.Times))
		}
	}
	// Each rate times its step, summed, is what happened: 21 requests,
	// one echo connection accepted and one refused (an error), 5 bytes
	// echoed; the held connection is open now.
	for _, c := range []struct {
		what string
		vals []*float64
		want float64
	}{{"site requests", w.Rate, 21}, {"echo connections", e.Rate, 1}, {"echo errors", e.Errors, 1},
		{"echo bytes in", e.In, 5}, {"echo bytes out", e.Out, 5}} {
		if got := integral(d.Times, c.vals); math.Abs(got-c.want) > 0.05+0.01*c.want {
			t.Errorf("%s: the series adds up to %.2f, want %v", c.what, got, c.want)
		}
	}
	if maxOf(w.In) <= 0 || maxOf(w.Out) <= 0 {
		t.Errorf("site bytes: in %v/s, out %v/s", maxOf(w.In), maxOf(w.Out))
	}
	if last := e.Active[len(e.Active)-1]; last == nil || *last != 1 {
		t.Errorf("echo open connections now: %v, want 1", last)
	}
	if maxOf(w.Errors) != 0 {
		t.Errorf("a 404 counted as a server error: %v", maxOf(w.Errors))
	}
	if p50, p99 := maxOf(w.P50), maxOf(w.P99); p50 <= 0 || p99 < p50 {
		t.Errorf("latency p50 %v ms, p99 %v ms", p50, p99)
	}

	// A reload that fails shows in /status: recent reloads, recent errors.
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte("services: [{name: x}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.signal(syscall.SIGHUP)
	s.waitFor(`reload failed`, 10*time.Second)
	var st struct {
		Reloads []struct {
			Result, Error string
		} `json:"reloads"`
		RecentErrors []struct {
			Time    time.Time `json:"time"`
			Level   string    `json:"level"`
			Service string    `json:"service"`
			Msg     string    `json:"msg"`
			Fields  string    `json:"fields"`
		} `json:"recent_errors"`
	}
	// The log line is written before the ring has it: poll.
	eventually(t, 5*time.Second, "the failed reload in /status", func() bool {
		_, body, _ := httpGet(t, "http://"+admin+"/status", "Accept", "application/json")
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatal(err)
		}
		return len(st.Reloads) > 0 && len(st.RecentErrors) > 0
	})
	if len(st.Reloads) != 1 || st.Reloads[0].Result != "failed" || !strings.Contains(st.Reloads[0].Error, "missing type") {
		t.Errorf("reloads: %+v", st.Reloads)
	}
	if len(st.RecentErrors) == 0 || st.RecentErrors[0].Level != "error" || !strings.HasPrefix(st.RecentErrors[0].Msg, "reload failed") ||
		!strings.Contains(st.RecentErrors[0].Fields, "missing type") || time.Since(st.RecentErrors[0].Time) > time.Minute {
		t.Errorf("recent errors: %+v", st.RecentErrors)
	}
}
