package metrics_test

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/twistd-go/twistd/metrics"
)

// A service counts what it does in a family labelled by its name; a
// second instance (the one a reload makes) gets the same counter.
func ExampleRegistry_Counter() {
	reg := metrics.New() // in a service: env.Metrics
	opts := prometheus.CounterOpts{Name: "chat_messages_total", Help: "Chat lines broadcast, by service."}

	reg.Counter(opts, "service").WithLabelValues("lobby").Add(2)
	reg.Counter(opts, "service").WithLabelValues("lobby").Inc() // after a reload

	g := prometheus.NewRegistry()
	g.MustRegister(reg)
	families, _ := g.Gather()
	for _, f := range families {
		for _, m := range f.GetMetric() {
			fmt.Println(f.GetName(), m.GetLabel()[0].GetValue(), m.GetCounter().GetValue())
		}
	}
	// Output: chat_messages_total lobby 3
}
