// Package metrics holds the process's Prometheus metrics (SPEC §6). One
// Metrics value is made per process and handed to whatever counts; nothing
// registers globally.
package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/twistd-go/twistd/metrics"
)

// Metrics are the twistd_* collectors and the registry that exposes them.
type Metrics struct {
	// Connection and byte counts (twistd_connections_*, twistd_bytes_*)
	// live in each service's service.Stats, atomics read at scrape time,
	// so the hot path never touches a label map.

	// Services is what services record of their own (web's
	// twistd_http_*, dns's twistd_dns_*), through service.Env.Metrics.
	Services *metrics.Registry

	// Supervision: failures of started services, and their restarts.
	ServiceFailures *prometheus.CounterVec // service
	ServiceRestarts *prometheus.CounterVec // service

	// The process.
	Reloads   *prometheus.CounterVec // result: ok | failed
	BuildInfo *prometheus.GaugeVec   // version
	// LogWriteErrors counts process log lines that could not be written
	// (a full disk, a reader of standard output gone away).
	LogWriteErrors prometheus.Counter

	registry func() *prometheus.Registry

	mu       sync.Mutex
	built    *prometheus.Registry // once registry has run
	watchers []func() []ServiceCounters
}

// New returns the metrics of one process. The registry that exposes them
// is made when first asked for (Registry).
func New(version string) *Metrics {
	m := &Metrics{
		Services: metrics.New(),
		ServiceFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twistd_service_failures_total", Help: "Failures of started services (a socket died, a loop gave up; a failed restart included), by service."}, []string{"service"}),
		ServiceRestarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twistd_service_restarts_total", Help: "Restarts of failed services (on_failure: restart), by service."}, []string{"service"}),
		Reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twistd_reloads_total", Help: "Reloads of the application file, by result (ok or failed)."}, []string{"result"}),
		LogWriteErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "twistd_log_write_errors_total", Help: "Process log lines lost because writing them failed."}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "twistd_build_info", Help: "Always 1; the version label names the build."}, []string{"version"}),
	}
	m.BuildInfo.WithLabelValues(version).Set(1)
	m.registry = sync.OnceValue(m.newRegistry)
	return m
}

// Registry returns the registry that exposes the metrics, together with
// the Go and process collectors. Only the admin endpoint reads it, so it
// is made on first use: a process without one does not make the
// collectors (about 100 KB of heap and of idle RSS).
func (m *Metrics) Registry() *prometheus.Registry { return m.registry() }

func (m *Metrics) newRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.Services, m.ServiceFailures, m.ServiceRestarts, m.Reloads, m.BuildInfo, m.LogWriteErrors,
	)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range m.watchers {
		r.MustRegister(&servicesCollector{f: f})
	}
	m.built, m.watchers = r, nil
	return r
}

// ServiceCounters are one service's connection and byte counts at scrape time.
type ServiceCounters struct {
	Service                                  string
	Accepted, Active                         int64
	RefusedMaxConnections, RefusedMaxPerPeer int64
	BytesReceived, BytesSent                 int64
	// Up is false while the service is failed (twistd_service_up).
	Up bool

	// RefusedRatePerPeer is max_connection_rate_per_peer's; RefusedAllow,
	// RefusedDeny and RefusedTrusted the source-address rules'.
	RefusedRatePerPeer, RefusedAllow, RefusedDeny, RefusedTrusted int64
	// RefusedMaxInstances is an exec service's max_instances.
	RefusedMaxInstances int64
}

// WatchServices registers the collector of twistd_connections_accepted_total,
// twistd_connections_active, twistd_connections_refused_total{reason},
// twistd_bytes_received_total and twistd_bytes_sent_total: at each scrape it
// calls f for the services running then, so a service removed by a reload
// simply stops being reported.
func (m *Metrics) WatchServices(f func() []ServiceCounters) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.built != nil {
		m.built.MustRegister(&servicesCollector{f: f})
		return
	}
	m.watchers = append(m.watchers, f)
}

var (
	descAccepted = prometheus.NewDesc("twistd_connections_accepted_total", "Connections accepted, by service.", []string{"service"}, nil)
	descActive   = prometheus.NewDesc("twistd_connections_active", "Connections open now, by service.", []string{"service"}, nil)
	descRefused  = prometheus.NewDesc("twistd_connections_refused_total", "Connections refused by a policy or a source-address rule (a refused datagram counts one), by service and reason (the key of the rule).", []string{"service", "reason"}, nil)
	descReceived = prometheus.NewDesc("twistd_bytes_received_total", "Bytes read from clients, by service.", []string{"service"}, nil)
	descSent     = prometheus.NewDesc("twistd_bytes_sent_total", "Bytes written to clients, by service.", []string{"service"}, nil)
	descUp       = prometheus.NewDesc("twistd_service_up", "1 while the service serves, 0 while it is failed (awaiting its restart), by service.", []string{"service"}, nil)
)

type servicesCollector struct {
	f func() []ServiceCounters
}

func (c *servicesCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descAccepted, descActive, descRefused, descReceived, descSent, descUp} {
		ch <- d
	}
}

func (c *servicesCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.f() {
		ch <- prometheus.MustNewConstMetric(descAccepted, prometheus.CounterValue, float64(s.Accepted), s.Service)
		ch <- prometheus.MustNewConstMetric(descActive, prometheus.GaugeValue, float64(s.Active), s.Service)
		ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(s.RefusedMaxConnections), s.Service, "max_connections")
		ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(s.RefusedMaxPerPeer), s.Service, "max_connections_per_peer")
		ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(s.RefusedRatePerPeer), s.Service, "max_connection_rate_per_peer")
		ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(s.RefusedAllow), s.Service, "allow")
		ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(s.RefusedDeny), s.Service, "deny")
		ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(s.RefusedTrusted), s.Service, "trusted")
		if s.RefusedMaxInstances > 0 {
			ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(s.RefusedMaxInstances), s.Service, "max_instances")
		}
		ch <- prometheus.MustNewConstMetric(descReceived, prometheus.CounterValue, float64(s.BytesReceived), s.Service)
		ch <- prometheus.MustNewConstMetric(descSent, prometheus.CounterValue, float64(s.BytesSent), s.Service)
		up := 0.0
		if s.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up, s.Service)
	}
}
