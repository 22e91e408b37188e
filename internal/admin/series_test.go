package admin

import (
	"encoding/json"
	"math"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

type seriesDoc struct {
	Step     float64   `json:"step_seconds"`
	Points   int       `json:"points"`
	Times    []float64 `json:"times"`
	Services []struct {
		Name, Type string
		RateUnit   string     `json:"rate_unit"`
		Rate       []*float64 `json:"rate"`
		Active     []*float64 `json:"connections_active"`
		In         []*float64 `json:"bytes_in_per_second"`
		Out        []*float64 `json:"bytes_out_per_second"`
		Errors     []*float64 `json:"errors_per_second"`
		P50        []*float64 `json:"latency_p50_ms"`
		P99        []*float64 `json:"latency_p99_ms"`
	} `json:"services"`
}

func decodeSeries(t *testing.T, s *Series) seriesDoc {
	t.Helper()
	b, err := s.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var d seriesDoc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return d
}

func val(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

func TestSeriesRates(t *testing.T) {
	s := NewSeries(SeriesOptions{Step: 5 * time.Second, Points: 4})
	t0 := time.Unix(1_800_000_000, 0)
	buckets := []float64{0.005, 0.01, 0.1}
	baseline(s, []Sample{
		{Name: "echo", Type: "echo", Connections: 10, BytesIn: 1000},
		{Name: "site", Type: "web", Requests: 5, Latency: &Histogram{Upper: buckets, Counts: []uint64{5, 5, 5}, Count: 5}},
	}, t0)
	s.Record([]Sample{
		{Name: "echo", Type: "echo", Connections: 60, Active: 3, BytesIn: 6000, BytesOut: 500, Errors: 5},
		// 100 requests in the step: 50 under 5 ms, 48 more under 10 ms, 2 under 100 ms.
		{Name: "site", Type: "web", Requests: 105, Latency: &Histogram{Upper: buckets, Counts: []uint64{55, 103, 105}, Count: 105}},
	}, t0.Add(5*time.Second))
	d := decodeSeries(t, s)
	if d.Step != 5 || d.Points != 4 || len(d.Times) != 1 || d.Times[0] != 1_800_000_005 {
		t.Fatalf("shape: %+v", d)
	}
	echo, site := d.Services[0], d.Services[1]
	if echo.Name != "echo" || echo.RateUnit != "connections" || val(echo.Rate[0]) != 10 || val(echo.Active[0]) != 3 ||
		val(echo.In[0]) != 1000 || val(echo.Out[0]) != 100 || val(echo.Errors[0]) != 1 || echo.P50 != nil {
		t.Errorf("echo: %+v", echo)
	}
	if site.RateUnit != "requests" || val(site.Rate[0]) != 20 {
		t.Errorf("site rate: %+v", site)
	}
	if p50 := val(site.P50[0]); p50 != 5 {
		t.Errorf("p50 = %v ms, want 5", p50)
	}
	// Rank 99 of 100 falls in (10 ms, 100 ms], the first of its 2:
	// 10 + 90 × 1/2 = 55.
	if p99 := val(site.P99[0]); p99 != 55 {
		t.Errorf("p99 = %v ms, want 55", p99)
	}
}

func TestSeriesRing(t *testing.T) {
	s := NewSeries(SeriesOptions{Step: time.Second, Points: 3})
	t0 := time.Unix(1_800_000_000, 0)
	baseline(s, []Sample{{Name: "a", Type: "echo"}}, t0)
	for i := 1; i <= 5; i++ {
		smp := []Sample{{Name: "a", Type: "echo", Connections: int64(i * i)}}
		if i == 4 {
			smp = []Sample{{Name: "b", Type: "dns", Requests: 7}} // a gone for a point, b new
		}
		s.Record(smp, t0.Add(time.Duration(i)*time.Second))
	}
	d := decodeSeries(t, s)
	if len(d.Times) != 3 || d.Times[0] != 1_800_000_003 || d.Times[2] != 1_800_000_005 {
		t.Fatalf("times %v", d.Times)
	}
	a := d.Services[0]
	// Point 3: 9-4; point 4: absent; point 5: back, so made afresh:
	// its counters count from zero.
	if val(a.Rate[0]) != 5 || a.Rate[1] != nil || val(a.Rate[2]) != 25 || val(a.Active[2]) != 0 {
		t.Errorf("a: rate %v %v %v", val(a.Rate[0]), val(a.Rate[1]), val(a.Rate[2]))
	}
	b := d.Services[1]
	// New at point 4: started since point 3, from zero.
	if b.Name != "b" || b.RateUnit != "queries" || b.Rate[0] != nil || val(b.Rate[1]) != 7 || b.P99 != nil {
		t.Errorf("b: %+v", b)
	}
	// Three more points without a: it is forgotten.
	for i := 6; i <= 8; i++ {
		s.Record([]Sample{{Name: "b", Type: "dns", Requests: 7}}, t0.Add(time.Duration(i)*time.Second))
	}
	if d := decodeSeries(t, s); len(d.Services) != 1 || d.Services[0].Name != "b" || val(d.Services[0].Rate[2]) != 0 {
		t.Errorf("after a left: %+v", d.Services)
	}
}

func TestQuantileEdges(t *testing.T) {
	h := &Histogram{Upper: []float64{1, 2}, Counts: []uint64{0, 0}, Count: 4}
	if q := quantile(0.5, h); q != 2 {
		t.Errorf("all in +Inf: %v, want the highest bound 2", q)
	}
	if q := quantile(0.5, &Histogram{Upper: []float64{1}, Counts: []uint64{0}}); !math.IsNaN(q) {
		t.Errorf("empty: %v", q)
	}
	if d := histDelta(&Histogram{Upper: []float64{1}, Counts: []uint64{3}, Count: 3}, &Histogram{Upper: []float64{1}, Counts: []uint64{3}, Count: 3}); d != nil {
		t.Errorf("nothing observed: %+v", d)
	}
	// A histogram made afresh (the service was replaced) counts whole.
	d := histDelta(&Histogram{Upper: []float64{1}, Counts: []uint64{9}, Count: 9}, &Histogram{Upper: []float64{1}, Counts: []uint64{2}, Count: 2})
	if d == nil || d.Count != 2 || d.Counts[0] != 2 {
		t.Errorf("reset: %+v", d)
	}
}

func TestSeriesSamplerWakesOncePerStep(t *testing.T) {
	// Busy: every reading differs. The sampler starts asleep (a wake
	// after idleWake steps), then samples every step.
	var n atomic.Int64
	calls := make(chan struct{}, 1000)
	s := NewSeries(SeriesOptions{Step: 10 * time.Millisecond, Points: 100, Sample: func() []Sample {
		calls <- struct{}{}
		return []Sample{{Name: "a", Type: "echo", Connections: n.Add(1)}}
	}})
	s.Acquire()
	s.Acquire() // a second user (a reload's new admin endpoint) starts nothing more
	time.Sleep(300 * time.Millisecond)
	s.Release()
	s.Release()
	got := len(calls)
	// The baseline, the wake at 120 ms, then one a step to 300 ms: 20
	// (a slow machine may miss some).
	if got < 8 || got > 22 {
		t.Fatalf("busy: sampled %d times in 300 ms at a 10 ms step", got)
	}
	time.Sleep(50 * time.Millisecond)
	if len(calls) != got {
		t.Fatalf("still sampling after the last Release")
	}

	// Idle: the same reading every time; the baseline and a wake every
	// idleWake steps.
	idle := make(chan struct{}, 1000)
	s = NewSeries(SeriesOptions{Step: 10 * time.Millisecond, Points: 100, Sample: func() []Sample {
		idle <- struct{}{}
		return []Sample{{Name: "a", Type: "echo", Connections: 7}}
	}})
	s.Acquire()
	time.Sleep(300 * time.Millisecond)
	s.Release()
	if got := len(idle); got < 1 || got > 4 {
		t.Fatalf("idle: sampled %d times in 300 ms, want the baseline and a wake every %d steps", got, idleWake)
	}
}

// BenchmarkSeriesRecord is the sampler's work per step for ten services
// (web ones with a latency histogram), without reading the counters.
func BenchmarkSeriesRecord(b *testing.B) {
	s := NewSeries(SeriesOptions{})
	upper := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	samples := make([]Sample, 10)
	for i := range samples {
		samples[i] = Sample{Name: "svc" + string(rune('a'+i)), Type: "echo"}
		if i%2 == 0 {
			samples[i].Type = "web"
			samples[i].Latency = &Histogram{Upper: upper, Counts: make([]uint64, len(upper))}
		}
	}
	t0 := time.Unix(1_800_000_000, 0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		for j := range samples {
			samples[j].Requests += 100
			samples[j].Connections += 10
			if h := samples[j].Latency; h != nil {
				// A fresh reading each step, as the process makes.
				n := &Histogram{Upper: h.Upper, Counts: make([]uint64, len(h.Counts))}
				for k := range h.Counts {
					n.Counts[k] = h.Counts[k] + uint64(10*k)
				}
				n.Count = n.Counts[len(n.Counts)-1] + 5
				samples[j].Latency = n
			}
		}
		s.Record(samples, t0.Add(time.Duration(i)*5*time.Second))
	}
}

func TestSeriesFillsAGap(t *testing.T) {
	s := NewSeries(SeriesOptions{Step: 5 * time.Second, Points: 10})
	t0 := time.Unix(1_800_000_000, 0)
	baseline(s, []Sample{{Name: "a", Type: "web"}}, t0)
	// Too soon: no point.
	s.Record([]Sample{{Name: "a", Type: "web", Requests: 1}}, t0.Add(time.Second))
	if d := decodeSeries(t, s); len(d.Times) != 0 {
		t.Fatalf("a point 1 s into a 5 s step: %v", d.Times)
	}
	// 20 s later, 41 requests: four points at the steps, 2.05/s each.
	s.Record([]Sample{{Name: "a", Type: "web", Requests: 41, Active: 2}}, t0.Add(20*time.Second))
	d := decodeSeries(t, s)
	want := []float64{1_800_000_005, 1_800_000_010, 1_800_000_015, 1_800_000_020}
	if !slices.Equal(d.Times, want) {
		t.Fatalf("times %v, want %v", d.Times, want)
	}
	for i, v := range d.Services[0].Rate {
		if val(v) != 2.05 || val(d.Services[0].Active[i]) != 2 {
			t.Errorf("point %d: rate %v, active %v", i, val(v), val(d.Services[0].Active[i]))
		}
	}
}

func TestSeriesSleepsWhileIdle(t *testing.T) {
	s := NewSeries(SeriesOptions{Step: time.Second, Points: 60})
	if w := s.wait(); w != idleWake*time.Second {
		t.Fatalf("at the start the sampler waits %v, want %d steps", w, idleWake)
	}
	t0 := time.Unix(1_800_000_000, 0)
	// A new service that counted nothing yet is no movement.
	baseline(s, nil, t0)
	s.Record([]Sample{{Name: "a", Type: "echo"}}, t0.Add(time.Second))
	if w := s.wait(); w != idleWake*time.Second {
		t.Fatalf("after a new idle service the sampler waits %v, want %d steps", w, idleWake)
	}
	busy := []Sample{{Name: "a", Type: "echo", Connections: 3}}
	s.Record(busy, t0.Add(2*time.Second))
	for i := range idleSteps {
		if w := s.wait(); w != time.Second {
			t.Fatalf("after %d quiet points the sampler waits %v, want a step", i, w)
		}
		s.Record(busy, t0.Add(time.Duration(3+i)*time.Second))
	}
	if w := s.wait(); w != idleWake*time.Second {
		t.Fatalf("idle again: waits %v, want %d steps", w, idleWake)
	}
	// A service gone is movement.
	s.Record(nil, t0.Add(time.Duration(3+idleSteps)*time.Second))
	if w := s.wait(); w != time.Second {
		t.Fatalf("after a service left the sampler waits %v, want a step", w)
	}
}

// baseline takes s's baseline, as the sampler does when it starts.
func baseline(s *Series, samples []Sample, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.baselineLocked(samples, now)
}
