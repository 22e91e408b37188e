package cli

import (
	"os"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/twistd-go/twistd/internal/admin"
	"github.com/twistd-go/twistd/internal/logging"
)

// recentReloads is how many reload outcomes /status keeps.
const recentReloads = 10

// samples reads every running service's counters for the admin time
// series: service.Stats, and for web and dns services the answers that
// are the server's fault and the request-duration histogram, gathered
// from the metrics the plugins registered. It runs once per step of the
// series, so gathering them whole is cheap.
func (p *proc) samples() []admin.Sample {
	if p.r == nil {
		return nil
	}
	serverErrs := map[string]int64{}
	latency := map[string]*admin.Histogram{}
	families, _ := p.metrics.Registry().Gather()
	for _, fam := range families {
		switch fam.GetName() {
		case "twistd_http_requests_total":
			countWhere(fam, serverErrs, func(l map[string]string) bool { return strings.HasPrefix(l["code"], "5") })
		case "twistd_dns_queries_total":
			countWhere(fam, serverErrs, func(l map[string]string) bool { return l["rcode"] == "SERVFAIL" })
		case "twistd_http_request_duration_seconds":
			for _, m := range fam.Metric {
				if h := m.GetHistogram(); h != nil {
					latency[labelsOf(m)["service"]] = histogram(h)
				}
			}
		}
	}
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
			smp.Latency = latency[svc.Name]
		}
		out = append(out, smp)
	}
	return out
}

// labelsOf is a metric's labels by name.
func labelsOf(m *dto.Metric) map[string]string {
	labels := make(map[string]string, len(m.Label))
	for _, l := range m.Label {
		labels[l.GetName()] = l.GetValue()
	}
	return labels
}

// countWhere adds up, per service label, the counters of fam whose labels
// match.
func countWhere(fam *dto.MetricFamily, into map[string]int64, match func(map[string]string) bool) {
	for _, m := range fam.Metric {
		if m.Counter == nil {
			continue
		}
		labels := labelsOf(m)
		if match(labels) {
			into[labels["service"]] += int64(m.Counter.GetValue())
		}
	}
}

// histogram is one service's request-duration histogram for the series.
func histogram(m *dto.Histogram) *admin.Histogram {
	h := &admin.Histogram{Count: m.GetSampleCount()}
	for _, b := range m.Bucket {
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
