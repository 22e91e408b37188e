package logfile_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/twistd-go/twistd/logfile"
)

// A log moved away by logrotate is reopened under its name; the lines
// written before the move stay in the moved file.
func ExampleFile_Reopen() {
	dir, _ := os.MkdirTemp("", "logfile")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "access.log")

	f, err := logfile.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	fmt.Fprintln(f, "before rotation")
	_ = os.Rename(path, path+".1") // what logrotate does
	_ = f.Reopen()                 // what the service's Reopen does on SIGUSR1
	fmt.Fprintln(f, "after rotation")

	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	fmt.Print(string(old), string(cur))
	// Output:
	// before rotation
	// after rotation
}
