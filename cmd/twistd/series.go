package main

import (
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/twistd-go/twistd/internal/admin"
	"github.com/twistd-go/twistd/internal/logging"
)

// recentReloads is how many reload outcomes /status keeps.
const recentReloads = 10

// samples reads every running service's counters for the admin time
// series: service.Stats, and for web and dns services the answers that
// are the server's fault and the request-duration histogram. It runs once
// per step of the series, so reading the collectors whole is cheap.
func (p *proc) samples() []admin.Sample {
	if p.r == nil {
		return nil
	}
	serverErrs := map[string]int64{}
	countWhere(p.metrics.HTTPRequests, serverErrs, func(labels map[string]string) bool {
		return strings.HasPrefix(labels["code"], "5")
	})
	countWhere(p.metrics.DNSQueries, serverErrs, func(labels map[string]string) bool {
		return labels["rcode"] == "SERVFAIL"
	})
	var out []admin.Sample
	for _, svc := range p.r.Services() {
		st := svc.Stats
		refused := st.RefusedMaxConnections.Load() + st.RefusedMaxPerPeer.Load() + st.RefusedRatePerPeer.Load() +
			st.RefusedAllow.Load() + st.RefusedDeny.Load() + st.RefusedTrusted.Load()
		smp := admin.Sample{Name: svc.Name, Type: svc.Type,
			Connections: st.ConnectionsAccepted.Load(), Active: st.ConnectionsActive.Load(),
			BytesIn: st.BytesReceived.Load(), BytesOut: st.BytesSent.Load(), Requests: st.Requests.Load(),
			Errors: refused + svc.Failures + serverErrs[svc.Name]}
		if svc.Type == "web" {
			smp.Latency = histogram(p.metrics.HTTPRequestDuration, svc.Name)
		}
		out = append(out, smp)
	}
	return out
}

// countWhere adds up, per service label, the counters of vec whose labels
// match.
func countWhere(vec *prometheus.CounterVec, into map[string]int64, match func(map[string]string) bool) {
	ch := make(chan prometheus.Metric, 64)
	go func() { vec.Collect(ch); close(ch) }()
	var m dto.Metric
	for metric := range ch {
		m.Reset()
		if metric.Write(&m) != nil || m.Counter == nil {
			continue
		}
		labels := make(map[string]string, len(m.Label))
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		if match(labels) {
			into[labels["service"]] += int64(m.Counter.GetValue())
		}
	}
}

// histogram reads one service's histogram of vec, nil if it has none yet.
func histogram(vec *prometheus.HistogramVec, service string) *admin.Histogram {
	obs, err := vec.GetMetricWithLabelValues(service)
	if err != nil {
		return nil
	}
	metric, ok := obs.(prometheus.Metric)
	if !ok {
		return nil
	}
	var m dto.Metric
	if metric.Write(&m) != nil || m.Histogram == nil {
		return nil
	}
	h := &admin.Histogram{Count: m.Histogram.GetSampleCount()}
	for _, b := range m.Histogram.Bucket {
		h.Upper = append(h.Upper, b.GetUpperBound())
		h.Counts = append(h.Counts, b.GetCumulativeCount())
	}
	return h
}

// seriesStepEnv sets the step of the admin time series (a Go duration
// from 100ms to 1m; 5s when unset or invalid), for tests and demos that
// cannot wait for 5 s points.
const seriesStepEnv = "TWISTD_STATUS_STEP"

func seriesStep() time.Duration {
	d, err := time.ParseDuration(os.Getenv(seriesStepEnv))
	if err != nil || d < 100*time.Millisecond || d > time.Minute {
		return admin.DefaultStep
	}
	return d
}

// recentErrors is the process log's recent warnings and errors for /status.
func recentErrors(l *logging.Logger) []admin.LogLine {
	out := []admin.LogLine{}
	if l == nil || l.Recent == nil {
		return out
	}
	for _, l := range l.Recent.Lines() {
		out = append(out, admin.LogLine{Time: l.Time, Level: l.Level, Service: l.Service, Message: l.Message, Fields: l.Fields})
	}
	return out
}
