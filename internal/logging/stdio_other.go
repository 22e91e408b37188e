//go:build unix && !linux

package logging

import (
	"os"

	"golang.org/x/sys/unix"
)

// redirectStdio makes descriptors 1 and 2 refer to f.
func redirectStdio(f *os.File) error {
	for _, fd := range []int{1, 2} {
		if err := unix.Dup2(int(f.Fd()), fd); err != nil {
			return err
		}
	}
	return nil
}
