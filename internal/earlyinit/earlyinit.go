// Package earlyinit sets the runtime knobs that must be set before any
// other package initialises: it grows the main goroutine's stack once and
// keeps heap-profile sampling off, and it reads the CPUs the process was
// given before anything raises GOMAXPROCS. internal/cli/knobs.go says why
// each knob is set and what it measured; the root package twistd (what
// every twistd binary's main runs) imports it, for its side effect.
//
// It imports only the runtime, so Go initialises it among the first
// packages, just after the runtime and before the packages whose
// initialisers grow the stack or allocate (GODEBUG=inittrace=1 shows the
// order).
package earlyinit

import "runtime"

// cpus is the runtime's GOMAXPROCS as it starts: set from the CPU set,
// the cgroup's quota and the GOMAXPROCS variable.
var cpus = runtime.GOMAXPROCS(0)

func init() {
	runtime.MemProfileRate = 0
	_ = grow(0)
}

// CPUs returns how many CPUs the process was given.
func CPUs() int { return cpus }

// defaultRate is the runtime's own heap-profile rate: one sample per 512 KiB.
const defaultRate = 512 * 1024

// EnableHeapProfile turns heap-profile sampling on at the runtime's
// default rate; a profile then covers the allocations made since. Call it
// before the goroutines that allocate start: the runtime reads the rate
// without synchronisation.
func EnableHeapProfile() {
	if runtime.MemProfileRate == 0 {
		runtime.MemProfileRate = defaultRate
	}
}

// frame is the size of grow's frame: with the little in use below it, the
// runtime makes the stack 64 KiB.
const frame = 40 << 10

// grow needs a frame of that size. Zeroing it writes 40 KiB of the new
// stack, most of which start-up fills anyway (it needs more than 32 KiB).
//
//go:noinline
func grow(i int) byte {
	var buf [frame]byte
	return buf[i]
}
