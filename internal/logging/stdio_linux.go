package logging

import (
	"os"

	"golang.org/x/sys/unix"
)

// redirectStdio makes descriptors 1 and 2 refer to f (dup3, without
// close-on-exec: they are standard output and error).
func redirectStdio(f *os.File) error {
	for _, fd := range []int{1, 2} {
		if err := unix.Dup3(int(f.Fd()), fd, 0); err != nil {
			return err
		}
	}
	return nil
}
