package memprofile

import (
	"runtime"
	"testing"
)

func TestOffUntilEnabled(t *testing.T) {
	if runtime.MemProfileRate != 0 {
		t.Fatalf("MemProfileRate %d at start, want 0", runtime.MemProfileRate)
	}
	Enable()
	if runtime.MemProfileRate != defaultRate {
		t.Fatalf("MemProfileRate %d after Enable, want %d", runtime.MemProfileRate, defaultRate)
	}
	runtime.MemProfileRate = 1
	Enable()
	if runtime.MemProfileRate != 1 {
		t.Fatal("Enable overrode a rate somebody chose")
	}
	runtime.MemProfileRate = defaultRate
}
