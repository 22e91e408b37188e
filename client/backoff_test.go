package client

import (
	"math"
	"testing"
	"time"
)

// fixed returns a Normal that yields zs in turn.
func fixed(zs ...float64) func() float64 {
	i := 0
	return func() float64 { z := zs[i%len(zs)]; i++; return z }
}

func TestBackoffSequence(t *testing.T) {
	sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	tests := []struct {
		name string
		b    Backoff
		want []time.Duration // Delay(1), Delay(2), ...
	}{
		{
			name: "defaults without jitter draws (z = 0)",
			b:    Backoff{Normal: fixed(0)},
			want: []time.Duration{sec(1), sec(math.E), sec(math.E * math.E), sec(math.Pow(math.E, 3)),
				sec(math.Pow(math.E, 4)), sec(math.Pow(math.E, 5)), sec(math.Pow(math.E, 6)), sec(math.Pow(math.E, 7)),
				sec(math.Pow(math.E, 8)), time.Hour, time.Hour},
		},
		{
			name: "defaults, one sigma up then down",
			b:    Backoff{Normal: fixed(1, -1)},
			want: []time.Duration{sec(1.11962656472), sec(math.E * (1 - 0.11962656472)), sec(math.E * math.E * 1.11962656472)},
		},
		{
			name: "the cap holds against jitter",
			b:    Backoff{Initial: time.Second, Factor: 2, Max: 4 * time.Second, Normal: fixed(3)},
			want: []time.Duration{sec(1.35887969416), sec(2.71775938832), sec(4), sec(4)},
		},
		{
			name: "no wait under half its base",
			b:    Backoff{Initial: time.Second, Factor: 2, Jitter: 1, Max: time.Minute, Normal: fixed(-5)},
			want: []time.Duration{sec(0.5), sec(1), sec(2), sec(4)},
		},
		{
			name: "negative jitter means none",
			b:    Backoff{Initial: 100 * time.Millisecond, Factor: 1.5, Jitter: -1, Max: 300 * time.Millisecond, Normal: fixed(7)},
			want: []time.Duration{100 * time.Millisecond, 150 * time.Millisecond, 225 * time.Millisecond, 300 * time.Millisecond},
		},
		{
			name: "max under initial is raised to it",
			b:    Backoff{Initial: time.Second, Max: time.Millisecond, Jitter: -1},
			want: []time.Duration{time.Second, time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, want := range tt.want {
				got := tt.b.Delay(i + 1)
				if d := got - want; d < -time.Microsecond || d > time.Microsecond {
					t.Errorf("Delay(%d) = %v, want %v", i+1, got, want)
				}
			}
		})
	}
}

func TestBackoffBounds(t *testing.T) {
	b := Backoff{}
	for _, n := range []int{-1, 0, 1, 50, 1999, 2000, math.MaxInt} {
		if d := b.Delay(n); d <= 0 || d > time.Hour {
			t.Errorf("Delay(%d) = %v, out of (0, 1h]", n, d)
		}
	}
}
