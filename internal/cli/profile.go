package cli

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
)

// Profilers --profiler picks from (twistd's --profiler, in Go's terms).
var profilers = []string{"cpu", "heap", "trace"}

// startProfile begins the profile of the whole run that --profile asks
// for (twistd's --profile FILE): a CPU profile, a heap profile written at
// exit, or an execution trace. The returned stop writes it out; with no
// path it does nothing.
func startProfile(path, kind string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--profile: %w", err)
	}
	switch kind {
	case "cpu":
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("--profile: %w", err)
		}
		return func() error {
			pprof.StopCPUProfile()
			return f.Close()
		}, nil
	case "heap":
		enableHeapProfile()
		return func() error {
			runtime.GC()
			err := pprof.Lookup("heap").WriteTo(f, 0)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			return err
		}, nil
	case "trace":
		if err := trace.Start(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("--profile: %w", err)
		}
		return func() error {
			trace.Stop()
			return f.Close()
		}, nil
	}
	f.Close()
	return nil, fmt.Errorf("--profiler %q: want cpu, heap or trace", kind)
}
