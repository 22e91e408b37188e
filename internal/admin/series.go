package admin

import (
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Default shape of the time series: a point every 5 s for 15 minutes.
const (
	DefaultStep   = 5 * time.Second
	DefaultPoints = 180
)

// Sample is one service's counters at one instant, as the process
// already counts them (service.Stats and the Prometheus collectors).
// Counters only grow while a service runs; one that went down (the
// service was replaced by a reload) starts its delta afresh.
type Sample struct {
	Name, Type string
	// Connections counts accepted connections; Active is open now.
	Connections, Active int64
	BytesIn, BytesOut   int64
	// Requests counts HTTP requests or DNS queries answered.
	Requests int64
	// Errors counts what went wrong: connections refused by a policy or
	// a source-address rule, failures of the service, and the answers
	// that are the server's fault (HTTP 5xx, DNS SERVFAIL).
	Errors int64
	// Latency is the service's request-duration histogram, nil where
	// none is kept.
	Latency *Histogram
}

// Histogram is a cumulative histogram of durations in seconds, as a
// Prometheus histogram reads: Counts[i] observations took at most
// Upper[i]; Count is every observation (the +Inf bucket).
type Histogram struct {
	Upper  []float64
	Counts []uint64
	Count  uint64
}

// SeriesOptions shape a Series.
type SeriesOptions struct {
	// Step is the time between points (DefaultStep if 0); Points how many
	// are kept (DefaultPoints if 0).
	Step   time.Duration
	Points int
	// Sample reads every running service's counters.
	Sample func() []Sample
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// Series keeps, per service, a fixed-size ring of rates sampled every
// step from the process's counters: requests (or queries, or
// connections) per second, open connections, bytes per second in and
// out, errors per second and, where a latency histogram is kept, p50
// and p99 computed from the histogram's deltas over the step. It is
// made once per process, so the history outlives reloads; it samples
// only while an admin endpoint that serves it runs (Acquire/Release),
// waking once per step, and once every idleWake steps while nothing
// moves.
type Series struct {
	step   time.Duration
	n      int
	sample func() []Sample
	now    func() time.Time

	// sampling serialises taking a sample with recording it, so the
	// sampler and a reader catching up never record an older sample
	// after a newer one (its deltas would come out negative, read as a
	// counter reset, and count everything again).
	sampling sync.Mutex

	mu     sync.Mutex
	times  []float64 // unix seconds of each point; a ring
	head   int       // where the next point goes
	filled int
	tracks map[string]*track
	order  []string  // services in the order they first appeared
	at     time.Time // of the last point or baseline; zero before either
	// fresh: sampling (re)started and no baseline was taken since; the
	// next Record takes it, whether the sampler's first or a reader's.
	fresh bool
	quiet int // points in a row in which nothing moved

	users int
	stop  chan struct{}
	done  chan struct{}
}

// track is one service's ring, aligned with Series.times.
type track struct {
	typ     string
	last    Sample
	lastAt  time.Time
	have    bool // last is a baseline to take deltas from
	missing int  // consecutive points the service was absent from
	// floor is the latency histogram's lowest bound in ms (0 if none):
	// quantiles below it are interpolated, not measured.
	floor float64
	// Rings of the values at each point; NaN where there is none.
	rate, active, in, out, errs, p50, p99 []float64
}

// NewSeries returns an empty series.
func NewSeries(o SeriesOptions) *Series {
	if o.Step <= 0 {
		o.Step = DefaultStep
	}
	if o.Points <= 0 {
		o.Points = DefaultPoints
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	// It starts asleep: a process that serves nothing never samples
	// more than once every idleWake steps.
	return &Series{step: o.Step, n: o.Points, sample: o.Sample, now: o.Now,
		times: make([]float64, o.Points), tracks: map[string]*track{}, quiet: idleSteps}
}

// Acquire starts sampling if nothing did yet: a baseline now, then a
// point every step. Each Acquire is undone by one Release.
func (s *Series) Acquire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users++
	if s.users > 1 || s.sample == nil {
		return
	}
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	s.fresh = true
	go s.run(s.stop, s.done)
}

// Release stops sampling once the last user is gone, and waits for the
// sampler to end.
func (s *Series) Release() {
	s.mu.Lock()
	s.users--
	if s.users > 0 || s.stop == nil {
		s.mu.Unlock()
		return
	}
	stop, done := s.stop, s.done
	s.stop, s.done = nil, nil
	s.mu.Unlock()
	close(stop)
	<-done
}

func (s *Series) run(stop, done chan struct{}) {
	defer close(done)
	s.recordNow() // the baseline, unless a reader's catch-up took it
	t := time.NewTimer(s.wait())
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.recordNow()
			t.Reset(s.wait())
		}
	}
}

// While idle the sampler sleeps longer: from the start, and after
// idleSteps points in which no counter moved, it wakes every idleWake
// steps, and the points it
// skipped are filled in when it wakes (zeros if still idle; otherwise
// what happened, averaged over them). A read of the series catches up
// first, so an open page always sees every step.
const (
	idleSteps = 3
	idleWake  = 12
)

// wait is how long the sampler sleeps before the next point.
func (s *Series) wait() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.quiet >= idleSteps {
		return idleWake * s.step
	}
	return s.step
}

// catchUp records the points due since the last one, if the sampler runs.
func (s *Series) catchUp() {
	s.mu.Lock()
	running := s.stop != nil
	s.mu.Unlock()
	if running {
		s.recordNow()
	}
}

// recordNow samples the counters and records the points due.
func (s *Series) recordNow() {
	s.sampling.Lock()
	defer s.sampling.Unlock()
	s.Record(s.sample(), s.now())
}

// baselineLocked takes the counters the next point's deltas start
// from, without recording a point; s.mu is held.
func (s *Series) baselineLocked(samples []Sample, now time.Time) {
	for _, smp := range samples {
		t := s.trackFor(smp)
		t.last, t.lastAt, t.have = smp, now, true
	}
	s.at = now
}

// point is one service's values at a point.
type point struct{ rate, active, in, out, errs, p50, p99 float64 }

// Record adds the points due at now from samples: one a step after the
// last (the sampler calls it every step; tests call it directly), none
// if less than half a step has passed, and after a longer gap one per
// step missed, each with the average over the gap.
func (s *Series) Record(samples []Sample, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fresh {
		s.fresh = false
		s.baselineLocked(samples, now)
		return
	}
	k := 1
	if !s.at.IsZero() {
		k = int(math.Round(float64(now.Sub(s.at)) / float64(s.step)))
		if k < 1 {
			return
		}
		k = min(k, s.n)
	}
	if s.moved(samples) {
		s.quiet = 0
	} else {
		s.quiet += k
	}
	present := make(map[*track]point, len(samples))
	for _, smp := range samples {
		t := s.trackFor(smp)
		if !t.have && !s.at.IsZero() {
			// New since the last point (or back after a gap): a service
			// started then, its counters from zero.
			t.last, t.lastAt, t.have = Sample{Name: smp.Name, Type: smp.Type}, s.at, true
		}
		v := point{nan, float64(smp.Active), nan, nan, nan, nan, nan}
		if dt := now.Sub(t.lastAt).Seconds(); t.have && dt > 0 {
			prev := t.last
			count := delta(prev.Connections, smp.Connections)
			if rateUnit(smp.Type) != "connections" {
				count = delta(prev.Requests, smp.Requests)
			}
			v.rate = float64(count) / dt
			v.in = float64(delta(prev.BytesIn, smp.BytesIn)) / dt
			v.out = float64(delta(prev.BytesOut, smp.BytesOut)) / dt
			v.errs = float64(delta(prev.Errors, smp.Errors)) / dt
			if d := histDelta(prev.Latency, smp.Latency); d != nil {
				v.p50, v.p99 = quantile(0.5, d)*1000, quantile(0.99, d)*1000
			}
		}
		present[t] = v
		t.last, t.lastAt, t.have = smp, now, true
		if smp.Latency != nil && len(smp.Latency.Upper) > 0 {
			t.floor = smp.Latency.Upper[0] * 1000
		}
	}
	for j := range k {
		at := now
		if j < k-1 {
			at = s.at.Add(time.Duration(j+1) * s.step)
		}
		i := s.head
		s.times[i] = float64(at.UnixMilli()) / 1000
		for _, t := range s.tracks {
			if v, ok := present[t]; ok {
				t.set(i, v)
				t.missing = 0
			} else {
				t.set(i, point{nan, nan, nan, nan, nan, nan, nan})
				t.missing++
			}
		}
		s.head = (s.head + 1) % s.n
		s.filled = min(s.filled+1, s.n)
	}
	s.at = now
	// A service gone from every point (removed by a reload, 15 minutes
	// ago) is forgotten.
	for name, t := range s.tracks {
		if t.missing >= s.n {
			delete(s.tracks, name)
			s.order = slices.DeleteFunc(s.order, func(n string) bool { return n == name })
		} else if t.missing > 0 {
			t.have = false
		}
	}
}

// moved reports whether anything changed since the last point: a
// counter or gauge, or a service gone; a new service moved only if it
// counted something already. Called with s.mu held.
func (s *Series) moved(samples []Sample) bool {
	present, matched := 0, 0
	for _, t := range s.tracks {
		if t.have && t.missing == 0 {
			present++
		}
	}
	for _, smp := range samples {
		t := s.tracks[smp.Name]
		if t == nil || !t.have || t.missing > 0 || t.typ != smp.Type {
			if smp.Connections != 0 || smp.Active != 0 || smp.BytesIn != 0 || smp.BytesOut != 0 || smp.Requests != 0 ||
				smp.Errors != 0 || smp.Latency != nil && smp.Latency.Count != 0 {
				return true
			}
			continue
		}
		matched++
		a, b := t.last, smp
		if a.Connections != b.Connections || a.Active != b.Active || a.BytesIn != b.BytesIn || a.BytesOut != b.BytesOut ||
			a.Requests != b.Requests || a.Errors != b.Errors || (a.Latency == nil) != (b.Latency == nil) ||
			a.Latency != nil && a.Latency.Count != b.Latency.Count {
			return true
		}
	}
	return matched != present
}

var nan = math.NaN()

// trackFor returns the service's track, made afresh if it is new or its
// type changed. Called with s.mu held.
func (s *Series) trackFor(smp Sample) *track {
	t := s.tracks[smp.Name]
	if t != nil && t.typ == smp.Type {
		return t
	}
	if t == nil {
		s.order = append(s.order, smp.Name)
	}
	t = &track{typ: smp.Type}
	for _, r := range []*[]float64{&t.rate, &t.active, &t.in, &t.out, &t.errs, &t.p50, &t.p99} {
		*r = make([]float64, s.n)
		for j := range *r {
			(*r)[j] = nan
		}
	}
	s.tracks[smp.Name] = t
	return t
}

func (t *track) set(i int, v point) {
	t.rate[i], t.active[i], t.in[i], t.out[i], t.errs[i], t.p50[i], t.p99[i] = v.rate, v.active, v.in, v.out, v.errs, v.p50, v.p99
}

// delta is how much a counter grew; one that went backwards was made
// afresh, and all of it is new.
func delta(prev, cur int64) int64 {
	if cur < prev {
		return cur
	}
	return cur - prev
}

// histDelta is what was observed between two readings of a histogram:
// nil if either is missing, their buckets differ, or nothing was.
func histDelta(prev, cur *Histogram) *Histogram {
	if cur == nil || cur.Count == 0 {
		return nil
	}
	if prev == nil || len(prev.Counts) != len(cur.Counts) || !slices.Equal(prev.Upper, cur.Upper) || prev.Count > cur.Count {
		prev = &Histogram{Counts: make([]uint64, len(cur.Counts))}
	}
	if cur.Count == prev.Count {
		return nil
	}
	d := &Histogram{Upper: cur.Upper, Counts: make([]uint64, len(cur.Counts)), Count: cur.Count - prev.Count}
	for i := range cur.Counts {
		if cur.Counts[i] < prev.Counts[i] {
			return nil
		}
		d.Counts[i] = cur.Counts[i] - prev.Counts[i]
	}
	return d
}

// quantile estimates the q-quantile of h as Prometheus's
// histogram_quantile does: linear within the bucket the rank falls in,
// the lowest bucket starting at 0, and the highest finite bound for
// ranks in the +Inf bucket.
func quantile(q float64, h *Histogram) float64 {
	if h == nil || h.Count == 0 || len(h.Upper) == 0 {
		return nan
	}
	rank := q * float64(h.Count)
	for i, c := range h.Counts {
		if float64(c) < rank {
			continue
		}
		lower, below := 0.0, 0.0
		if i > 0 {
			lower, below = h.Upper[i-1], float64(h.Counts[i-1])
		}
		if float64(c) == below {
			return h.Upper[i]
		}
		return lower + (h.Upper[i]-lower)*(rank-below)/(float64(c)-below)
	}
	return h.Upper[len(h.Upper)-1]
}

// MarshalJSON writes the /status/series document: the points' times,
// oldest first, and per service its values at each (null where the
// service had none). Services with a latency histogram (web) have
// latency_p50_ms and latency_p99_ms, and latency_floor_ms, its lowest
// bucket bound: a quantile under it is interpolated, not measured.
func (s *Series) MarshalJSON() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := (s.head - s.filled + s.n) % s.n
	idx := func(k int) int { return (start + k) % s.n }
	b := make([]byte, 0, 512+s.filled*(16+len(s.tracks)*48))
	b = append(b, `{"step_seconds":`...)
	b = strconv.AppendFloat(b, s.step.Seconds(), 'g', -1, 64)
	b = append(b, `,"points":`...)
	b = strconv.AppendInt(b, int64(s.n), 10)
	b = append(b, `,"times":`...)
	b = appendRing(b, s.times, s.filled, idx, 3)
	b = append(b, `,"services":[`...)
	for k, name := range s.order {
		t := s.tracks[name]
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = strconv.AppendQuote(b, name)
		b = append(b, `,"type":`...)
		b = strconv.AppendQuote(b, t.typ)
		b = append(b, `,"rate_unit":`...)
		b = strconv.AppendQuote(b, rateUnit(t.typ))
		for _, f := range []struct {
			key  string
			ring []float64
		}{{"rate", t.rate}, {"connections_active", t.active}, {"bytes_in_per_second", t.in},
			{"bytes_out_per_second", t.out}, {"errors_per_second", t.errs}} {
			b = append(b, `,"`+f.key+`":`...)
			b = appendRing(b, f.ring, s.filled, idx, 3)
		}
		if t.floor > 0 {
			b = append(b, `,"latency_p50_ms":`...)
			b = appendRing(b, t.p50, s.filled, idx, 3)
			b = append(b, `,"latency_p99_ms":`...)
			b = appendRing(b, t.p99, s.filled, idx, 3)
			b = append(b, `,"latency_floor_ms":`...)
			b = trimZeros(strconv.AppendFloat(b, t.floor, 'f', 3, 64))
		}
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	return b, nil
}

// rateUnit names what a service's rate counts.
func rateUnit(typ string) string {
	switch typ {
	case "web":
		return "requests"
	case "dns":
		return "queries"
	}
	return "connections"
}

// appendRing appends n values of ring, in the order idx gives, as a JSON
// array rounded to prec decimals, NaN as null.
func appendRing(b []byte, ring []float64, n int, idx func(int) int, prec int) []byte {
	b = append(b, '[')
	for k := range n {
		if k > 0 {
			b = append(b, ',')
		}
		v := ring[idx(k)]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			b = append(b, "null"...)
			continue
		}
		b = strconv.AppendFloat(b, v, 'f', prec, 64)
		b = trimZeros(b)
	}
	return append(b, ']')
}

// trimZeros drops the trailing zeros (and point) of the number b ends with.
func trimZeros(b []byte) []byte {
	dot := -1
	for i := len(b) - 1; i >= 0 && (b[i] >= '0' && b[i] <= '9' || b[i] == '.'); i-- {
		if b[i] == '.' {
			dot = i
			break
		}
	}
	if dot < 0 {
		return b
	}
	for b[len(b)-1] == '0' {
		b = b[:len(b)-1]
	}
	if b[len(b)-1] == '.' {
		b = b[:len(b)-1]
	}
	return b
}

// serveSeries answers /status/series.
func (s *Service) serveSeries(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if s.opts.Series == nil {
		_, _ = w.Write([]byte(`{"step_seconds":0,"points":0,"times":[],"services":[]}` + "\n"))
		return
	}
	s.opts.Series.catchUp()
	b, _ := s.opts.Series.MarshalJSON()
	_, _ = w.Write(append(b, '\n'))
}
