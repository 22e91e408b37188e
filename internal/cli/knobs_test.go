package cli

import "testing"

// fakeGC records what a bulkGC does to the runtime.
type fakeGC struct {
	percent  int
	sets     []int
	releases int
}

func (f *fakeGC) bulk(start int) *bulkGC {
	f.percent = start
	return &bulkGC{
		set: func(p int) int {
			old := f.percent
			f.percent = p
			f.sets = append(f.sets, p)
			return old
		},
		release: func() { f.releases++ },
	}
}

// Overlapping transfers raise GOGC once and restore it, and return the
// garbage, when the last ends; a second call of an end counts once.
func TestBulkGCOverlapping(t *testing.T) {
	var f fakeGC
	b := f.bulk(100)
	end1 := b.start()
	end2 := b.start()
	if f.percent != bulkGCPercent || len(f.sets) != 1 {
		t.Fatalf("two transfers: GOGC %d after sets %v, want %d set once", f.percent, f.sets, bulkGCPercent)
	}
	end1()
	end1()
	if f.percent != bulkGCPercent || f.releases != 0 {
		t.Fatalf("one of two ended (twice): GOGC %d, %d releases; want %d, 0", f.percent, f.releases, bulkGCPercent)
	}
	end2()
	if f.percent != 100 || f.releases != 1 {
		t.Fatalf("both ended: GOGC %d, %d releases; want 100, 1", f.percent, f.releases)
	}
	b.start()()
	if f.percent != 100 || f.releases != 2 || len(f.sets) != 4 {
		t.Fatalf("a later transfer: GOGC %d, %d releases, sets %v", f.percent, f.releases, f.sets)
	}
}

// A GOGC of the environment above the bulk setting, or off, stays.
func TestBulkGCKeepsAHigherGOGC(t *testing.T) {
	for _, env := range []int{-1, 1000} {
		var f fakeGC
		b := f.bulk(env)
		end := b.start()
		if f.percent != env {
			t.Errorf("GOGC %d during a transfer, want the environment's %d", f.percent, env)
		}
		end()
		if f.percent != env {
			t.Errorf("GOGC %d after a transfer, want %d", f.percent, env)
		}
	}
}
