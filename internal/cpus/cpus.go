// Package cpus tells how many CPUs the process was given to run on.
package cpus

import "runtime"

// usable is read once, before anything can change GOMAXPROCS: the runtime
// sets it from the CPU set, the cgroup's quota and the GOMAXPROCS
// variable. The reactor raises GOMAXPROCS later, for its event loops.
var usable = runtime.GOMAXPROCS(0)

// Usable returns the number of CPUs the process was given: how many event
// loops or datagram readers keep it busy without crowding one another.
func Usable() int { return usable }
