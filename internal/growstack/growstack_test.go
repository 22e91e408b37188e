package growstack

import "testing"

// TestGrowStaysOnTheStack guards the trick: a frame too large for the
// stack would be moved to the heap and grow nothing.
func TestGrowStaysOnTheStack(t *testing.T) {
	if n := testing.AllocsPerRun(10, func() { _ = grow(0) }); n != 0 {
		t.Fatalf("grow allocates %v times: its frame went to the heap", n)
	}
}
