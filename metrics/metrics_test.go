package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestSameNameSameCollector(t *testing.T) {
	r := New()
	a := r.Histogram(prometheus.HistogramOpts{Name: "x_seconds", Help: "x"}, "service")
	b := r.Histogram(prometheus.HistogramOpts{Name: "x_seconds", Help: "x"}, "service")
	if a != b {
		t.Fatal("a second Histogram of one name made a new collector")
	}
	g := prometheus.NewRegistry()
	g.MustRegister(r)
	r.Gauge(prometheus.GaugeOpts{Name: "later", Help: "made after registration"}).WithLabelValues().Set(1)
	fs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].GetName() != "later" { // x_seconds has no series yet
		t.Fatalf("gathered %v", fs)
	}
}

func TestConflictPanics(t *testing.T) {
	r := New()
	r.Counter(prometheus.CounterOpts{Name: "y_total", Help: "y"}, "service")
	defer func() {
		if recover() == nil {
			t.Fatal("other labels for one name did not panic")
		}
	}()
	r.Counter(prometheus.CounterOpts{Name: "y_total", Help: "y"}, "service", "code")
}

func TestNilRegistryGivesWorkingCollectors(t *testing.T) {
	var r *Registry
	r.Counter(prometheus.CounterOpts{Name: "z_total", Help: "z"}, "service").WithLabelValues("a").Inc()
	r.Gauge(prometheus.GaugeOpts{Name: "z", Help: "z"}).WithLabelValues().Set(1)
	r.Histogram(prometheus.HistogramOpts{Name: "z_seconds", Help: "z"}).WithLabelValues().Observe(1)
}
