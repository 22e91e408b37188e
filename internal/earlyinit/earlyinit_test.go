package earlyinit

import (
	"runtime"
	"testing"
)

// TestGrowStaysOnTheStack guards the trick: a frame too large for the
// stack would be moved to the heap and grow nothing.
func TestGrowStaysOnTheStack(t *testing.T) {
	if n := testing.AllocsPerRun(10, func() { _ = grow(0) }); n != 0 {
		t.Fatalf("grow allocates %v times: its frame went to the heap", n)
	}
}

func TestHeapProfileOffUntilEnabled(t *testing.T) {
	if runtime.MemProfileRate != 0 {
		t.Fatalf("MemProfileRate %d at start, want 0", runtime.MemProfileRate)
	}
	EnableHeapProfile()
	if runtime.MemProfileRate != defaultRate {
		t.Fatalf("MemProfileRate %d after EnableHeapProfile, want %d", runtime.MemProfileRate, defaultRate)
	}
	runtime.MemProfileRate = 1
	EnableHeapProfile()
	if runtime.MemProfileRate != 1 {
		t.Fatal("EnableHeapProfile overrode a rate somebody chose")
	}
	runtime.MemProfileRate = defaultRate
}

func TestCPUsIsTheStartingGOMAXPROCS(t *testing.T) {
	want := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(want + 1))
	if CPUs() != want {
		t.Fatalf("CPUs() = %d, want %d", CPUs(), want)
	}
}
