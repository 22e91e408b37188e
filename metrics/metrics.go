// Package metrics lets a service record Prometheus metrics of its own
// beside twistd's, served on the admin endpoint's /metrics.
//
// A service gets the process's Registry as service.Env.Metrics and asks it
// for its collectors when it starts. Asking again for a name already made
// returns the same collector, so an instance that replaces another on a
// reload (or a restart after a failure) counts on where its predecessor
// left off, and two services of one type share one family told apart by
// a label (by convention "service", the service's name). Nothing
// registers globally.
package metrics

import (
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Registry holds the collectors services made. It is a
// prometheus.Collector: the process registers it once, and collectors
// made later are exposed from then on. The zero value is not usable; make
// one with New. A Registry is safe for concurrent use.
type Registry struct {
	mu    sync.Mutex
	byKey map[string]made
}

type made struct {
	kind   string // counter, gauge, histogram
	labels []string
	c      prometheus.Collector
}

// New returns an empty registry: the process makes one, and a test can
// make its own and read what its service recorded with Gather.
func New() *Registry { return &Registry{byKey: map[string]made{}} }

// Counter returns the counter family named opts.Name (Namespace and
// Subsystem joined as Prometheus does) with the given label names, made on
// first use. On a nil Registry (an Env a test made without one) it
// returns a fresh collector that nothing exposes. It panics if that name was made before as another kind or
// with other labels: two definitions of one metric are a programming
// error, found the first time the second one starts.
func (r *Registry) Counter(opts prometheus.CounterOpts, labels ...string) *prometheus.CounterVec {
	name := prometheus.BuildFQName(opts.Namespace, opts.Subsystem, opts.Name)
	return r.get(name, "counter", labels, func() prometheus.Collector {
		return prometheus.NewCounterVec(opts, labels)
	}).(*prometheus.CounterVec)
}

// Gauge returns the gauge family named opts.Name, as Counter does.
func (r *Registry) Gauge(opts prometheus.GaugeOpts, labels ...string) *prometheus.GaugeVec {
	name := prometheus.BuildFQName(opts.Namespace, opts.Subsystem, opts.Name)
	return r.get(name, "gauge", labels, func() prometheus.Collector {
		return prometheus.NewGaugeVec(opts, labels)
	}).(*prometheus.GaugeVec)
}

// Histogram returns the histogram family named opts.Name, as Counter does
// (prometheus.DefBuckets when opts.Buckets is nil).
func (r *Registry) Histogram(opts prometheus.HistogramOpts, labels ...string) *prometheus.HistogramVec {
	name := prometheus.BuildFQName(opts.Namespace, opts.Subsystem, opts.Name)
	return r.get(name, "histogram", labels, func() prometheus.Collector {
		return prometheus.NewHistogramVec(opts, labels)
	}).(*prometheus.HistogramVec)
}

func (r *Registry) get(name, kind string, labels []string, make func() prometheus.Collector) prometheus.Collector {
	if r == nil {
		return make()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if m, ok := r.byKey[name]; ok {
		if m.kind != kind || !slices.Equal(m.labels, labels) {
			panic(fmt.Sprintf("metrics: %s made as a %s with labels %q, now asked for as a %s with labels %q",
				name, m.kind, m.labels, kind, labels))
		}
		return m.c
	}
	c := make()
	r.byKey[name] = made{kind: kind, labels: slices.Clone(labels), c: c}
	return c
}

// Describe sends nothing: the registry's collectors are made while the
// process runs, so Prometheus checks them at each scrape instead (an
// unchecked collector).
func (r *Registry) Describe(chan<- *prometheus.Desc) {}

// Collect sends the metrics of every collector made, in name order.
func (r *Registry) Collect(ch chan<- prometheus.Metric) {
	if r == nil {
		return
	}
	r.mu.Lock()
	names := make([]string, 0, len(r.byKey))
	for name := range r.byKey {
		names = append(names, name)
	}
	sort.Strings(names)
	cs := make([]prometheus.Collector, len(names))
	for i, name := range names {
		cs[i] = r.byKey[name].c
	}
	r.mu.Unlock()
	for _, c := range cs {
		c.Collect(ch)
	}
}

var _ prometheus.Collector = (*Registry)(nil)
