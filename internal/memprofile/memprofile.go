// Package memprofile keeps the runtime's heap-profile sampling off until
// somebody can read the profile: the admin endpoint turns it on when it
// serves /debug/pprof/.
//
// Each sampled allocation records its call stack, and walking a stack
// reads the binary's pclntab, which the kernel faults in 64 KiB at a time:
// with sampling on from the start, package initialisation alone faulted in
// 0.3–0.4 MB of the binary, at random points, for a profile nobody could
// fetch. The package imports only the runtime, so Go initialises it among
// the first (GODEBUG=inittrace=1 shows the order). Import it for its side
// effect, from package main only.
package memprofile

import "runtime"

// defaultRate is the runtime's own default: one sample per 512 KiB.
const defaultRate = 512 * 1024

func init() { runtime.MemProfileRate = 0 }

// Enable turns sampling on at the runtime's default rate; a heap profile
// then covers the allocations made since the first call. Call it before
// the goroutines that allocate start, when possible: the runtime reads
// the rate without synchronisation.
func Enable() {
	if runtime.MemProfileRate == 0 {
		runtime.MemProfileRate = defaultRate
	}
}
