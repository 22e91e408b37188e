package policy

import (
	"testing"
	"time"
)

func TestBucketPacesToTheRate(t *testing.T) {
	now := time.Unix(0, 0)
	b := newBucket(8192, func() time.Time { return now })
	// The burst (an eighth of a second, at least 1 KiB) is free.
	if w := b.take(1024); w != 0 {
		t.Fatalf("within the burst: wait %v", w)
	}
	// Overdrawing by one second's worth costs one second (less the burst left).
	if w := b.take(8192); w != time.Second {
		t.Fatalf("overdraw: wait %v, want 1s", w)
	}
	now = now.Add(time.Second)
	if w := b.take(1); w <= 0 {
		t.Fatalf("debt repaid too soon")
	}
	now = now.Add(time.Hour)
	if w := b.take(1024); w != 0 {
		t.Fatalf("after an hour: wait %v; the bucket must refill only up to its burst", w)
	}
	if w := b.take(1024); w == 0 {
		t.Fatal("the bucket refilled past its burst")
	}
}
