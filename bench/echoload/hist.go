package main

import (
	"math/bits"
	"time"
)

// Latencies are kept in a log-linear histogram: exact below 64 ns, then 32
// buckets per power of two, so every bucket is within 3% of the values in
// it. It is a fixed array: recording never allocates, memory stays bounded
// however long the run, and histograms from many connections add up.
const (
	subBits    = 5
	subCount   = 1 << subBits
	maxExp     = 40 // values are clamped to 2^40 ns (about 18 minutes)
	numBuckets = (maxExp-subBits)*subCount + subCount
)

// hist is a latency histogram in nanoseconds. The zero value is empty and
// ready to use; it is not safe for concurrent use.
type hist struct {
	counts [numBuckets]uint64
	n      uint64
	max    int64
}

func bucketOf(ns int64) int {
	if ns < 0 {
		ns = 0
	}
	if ns >= 1<<maxExp {
		ns = 1<<maxExp - 1
	}
	v := uint64(ns)
	if v < 2*subCount {
		return int(v)
	}
	e := bits.Len64(v) - (subBits + 1)
	return (e+1)<<subBits + int(v>>e) - subCount
}

// bucketLow returns the smallest value that falls in bucket i.
func bucketLow(i int) int64 {
	if i < 2*subCount {
		return int64(i)
	}
	e := i>>subBits - 1
	return int64(i&(subCount-1)+subCount) << e
}

// bucketMid returns the middle of bucket i, the value a quantile reports.
func bucketMid(i int) int64 {
	if i < 2*subCount {
		return int64(i)
	}
	return (bucketLow(i) + bucketLow(i+1) - 1) / 2
}

// record adds one latency.
func (h *hist) record(d time.Duration) {
	ns := int64(d)
	h.counts[bucketOf(ns)]++
	h.n++
	if ns > h.max {
		h.max = ns
	}
}

// add merges o into h.
func (h *hist) add(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	if o.max > h.max {
		h.max = o.max
	}
}

// quantile returns the latency below which a fraction q of the recorded
// values fall, to the histogram's precision; 0 when nothing was recorded.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	if rank > h.n {
		rank = h.n
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			m := bucketMid(i)
			if m > h.max {
				m = h.max
			}
			return time.Duration(m)
		}
	}
	return time.Duration(h.max)
}
