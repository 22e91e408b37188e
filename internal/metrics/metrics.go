// Package metrics holds the process's Prometheus metrics (SPEC §6). One
// Metrics value is made per process and handed to whatever counts; nothing
// registers globally.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the twistd_* collectors and the registry that exposes them.
type Metrics struct {
	Registry *prometheus.Registry

	// Connection and byte counts (twistd_connections_*, twistd_bytes_*)
	// live in each service's service.Stats, atomics read at scrape time,
	// so the hot path never touches a label map.

	// Web services.
	HTTPRequests        *prometheus.CounterVec   // service, code
	HTTPRequestDuration *prometheus.HistogramVec // service

	// DNS services.
	DNSQueries *prometheus.CounterVec // service, qtype, rcode

	// The process.
	Reloads   *prometheus.CounterVec // result: ok | failed
	BuildInfo *prometheus.GaugeVec   // version
}

// New returns the metrics of one process, registered on a fresh registry
// together with the Go and process collectors.
func New(version string) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twistd_http_requests_total", Help: "HTTP requests answered, by service and status code."}, []string{"service", "code"}),
		HTTPRequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "twistd_http_request_duration_seconds", Help: "Time to answer HTTP requests, by service.",
			Buckets: prometheus.DefBuckets}, []string{"service"}),
		DNSQueries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twistd_dns_queries_total", Help: "DNS queries answered, by service, query type and response code."}, []string{"service", "qtype", "rcode"}),
		Reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twistd_reloads_total", Help: "Reloads of the application file, by result (ok or failed)."}, []string{"result"}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "twistd_build_info", Help: "Always 1; the version label names the build."}, []string{"version"}),
	}
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.HTTPRequests, m.HTTPRequestDuration, m.DNSQueries, m.Reloads, m.BuildInfo,
	)
	m.BuildInfo.WithLabelValues(version).Set(1)
	return m
}
