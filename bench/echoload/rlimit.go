package main

import (
	"fmt"
	"syscall"
)

// raiseFileLimit raises the soft limit on open files to the hard limit, and
// reports an error when even that is below want.
func raiseFileLimit(want int) error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return fmt.Errorf("setrlimit nofile %d: %w", l.Max, err)
		}
	}
	if uint64(l.Cur) < uint64(want) { //nolint:unconvert // Cur is an int64 on FreeBSD
		return fmt.Errorf("open-file limit %d is below the %d this run needs", l.Cur, want)
	}
	return nil
}
