package metrics

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

var (
	httpRequests = prometheus.CounterOpts{Name: "twistd_http_requests_total", Help: "h"}
	httpDuration = prometheus.HistogramOpts{Name: "twistd_http_request_duration_seconds", Help: "h"}
)

func tenServices() []ServiceCounters {
	out := make([]ServiceCounters, 10)
	for i := range out {
		out[i] = ServiceCounters{Service: fmt.Sprintf("svc%d", i), Accepted: int64(i), Active: 1, BytesReceived: 100, BytesSent: 200}
	}
	return out
}

func TestServiceCountersAreExposed(t *testing.T) {
	m := New("1.2.3")
	m.WatchServices(tenServices)
	m.Services.Counter(httpRequests, "service", "code").WithLabelValues("site", "200").Inc()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(m.Registry(), promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`twistd_connections_accepted_total{service="svc3"} 3`,
		`twistd_connections_refused_total{reason="max_connections_per_peer",service="svc0"} 0`,
		`twistd_bytes_sent_total{service="svc9"} 200`,
		`twistd_http_requests_total{code="200",service="site"} 1`,
		`twistd_build_info{version="1.2.3"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("missing %s", want)
		}
	}
}

func TestRegistryMadeOnce(t *testing.T) {
	m := New("1.2.3")
	r := m.Registry()
	if m.Registry() != r {
		t.Fatal("Registry made twice")
	}
	m.WatchServices(tenServices) // after the registry exists
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(r, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{`twistd_connections_active{service="svc9"} 1`, "go_goroutines ", "process_start_time_seconds "} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %s", want)
		}
	}
}

// BenchmarkScrape is one /metrics scrape with ten services (the goal: ≤ 5 ms).
func BenchmarkScrape(b *testing.B) {
	m := New("1.2.3")
	m.WatchServices(tenServices)
	for i := 0; i < 10; i++ {
		for _, code := range []string{"200", "304", "404"} {
			m.Services.Counter(httpRequests, "service", "code").WithLabelValues(fmt.Sprintf("svc%d", i), code).Inc()
		}
		m.Services.Histogram(httpDuration, "service").WithLabelValues(fmt.Sprintf("svc%d", i)).Observe(0.01)
	}
	h := promhttp.HandlerFor(m.Registry(), promhttp.HandlerOpts{})
	req := httptest.NewRequest("GET", "/metrics", nil)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
	}
}
