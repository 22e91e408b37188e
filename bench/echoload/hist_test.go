package main

import (
	"math"
	"testing"
	"time"
)

func TestBucketsCoverEveryValue(t *testing.T) {
	for _, v := range []int64{0, 1, 63, 64, 65, 127, 128, 1000, 4095, 4096, 1e6, 123456789, 1<<40 - 1} {
		i := bucketOf(v)
		if lo, hi := bucketLow(i), bucketLow(i+1); v < lo || v >= hi {
			t.Errorf("value %d in bucket %d = [%d, %d)", v, i, lo, hi)
		}
		if i >= numBuckets {
			t.Errorf("value %d: bucket %d beyond %d", v, i, numBuckets)
		}
	}
	if got := bucketOf(1 << 50); got != numBuckets-1 {
		t.Errorf("bucketOf(2^50) = %d, want the last bucket %d", got, numBuckets-1)
	}
}

func TestQuantiles(t *testing.T) {
	var h hist
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		name string
		q    float64
		want time.Duration
	}{
		{name: "p50", q: 0.50, want: 500 * time.Microsecond},
		{name: "p99", q: 0.99, want: 990 * time.Microsecond},
		{name: "p100", q: 1, want: 1000 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := h.quantile(tc.q)
			if rel := math.Abs(float64(got-tc.want)) / float64(tc.want); rel > 0.03 {
				t.Errorf("quantile(%v) = %v, want %v within 3%%", tc.q, got, tc.want)
			}
		})
	}
	if h.max != int64(time.Millisecond) {
		t.Errorf("max = %d, want 1ms exactly", h.max)
	}
	var empty hist
	if got := empty.quantile(0.5); got != 0 {
		t.Errorf("empty quantile = %v, want 0", got)
	}
}

func TestAddMerges(t *testing.T) {
	var a, b hist
	a.record(10 * time.Microsecond)
	b.record(20 * time.Microsecond)
	b.record(5 * time.Millisecond)
	a.add(&b)
	if a.n != 3 || a.max != int64(5*time.Millisecond) {
		t.Errorf("merged n=%d max=%d, want 3 and 5ms", a.n, a.max)
	}
}
