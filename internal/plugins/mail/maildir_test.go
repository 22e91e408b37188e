package mail

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A full disk can show only at fsync (NFS, thin provisioning), or at link
// or rename time (no inode, quota): each is a 452 error (errNoSpace) that
// leaves no file in any tmp or new; other errors are not errNoSpace.
func TestDeliverFailsLateLeavesNothing(t *testing.T) {
	fail := func(e error) func(string, string) error { return func(string, string) error { return e } }
	for _, c := range []struct {
		name    string
		ops     fsOps
		rcpts   []string
		noSpace bool
	}{
		{"fsync ENOSPC", fsOps{sync: func(*os.File) error { return syscall.ENOSPC }, link: os.Link, rename: os.Rename},
			[]string{"alice"}, true},
		{"fsync EIO", fsOps{sync: func(*os.File) error { return syscall.EIO }, link: os.Link, rename: os.Rename},
			[]string{"alice"}, false},
		{"rename ENOSPC", fsOps{sync: (*os.File).Sync, link: os.Link, rename: fail(syscall.ENOSPC)},
			[]string{"alice"}, true},
		{"rename EDQUOT after the links", fsOps{sync: (*os.File).Sync, link: os.Link, rename: fail(syscall.EDQUOT)},
			[]string{"alice", "bob", "carol"}, true},
		{"link ENOSPC", fsOps{sync: (*os.File).Sync, link: fail(syscall.ENOSPC), rename: os.Rename},
			[]string{"alice", "bob"}, true},
		{"link EXDEV, the copy's fsync ENOSPC", fsOps{
			sync: func() func(*os.File) error {
				n := 0
				return func(f *os.File) error {
					if n++; n > 1 {
						return syscall.ENOSPC
					}
					return f.Sync()
				}
			}(),
			link: fail(syscall.EXDEV), rename: os.Rename}, []string{"alice", "bob"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dirs := maildirs(t, c.rcpts...)
			err := c.ops.deliver(dirs, "h", []byte("Received: x\n"), strings.NewReader("Subject: s\r\n\r\nbody\r\n"))
			if err == nil {
				t.Fatal("delivered despite the failure")
			}
			if got := errors.Is(err, errNoSpace); got != c.noSpace {
				t.Fatalf("errNoSpace %v, want %v: %v", got, c.noSpace, err)
			}
			for _, d := range dirs {
				for _, sub := range []string{"tmp", "new"} {
					if n := count(t, filepath.Join(d, sub)); n != 0 {
						t.Fatalf("%s/%s has %d files after %v", filepath.Base(d), sub, n, err)
					}
				}
			}
		})
	}
}

// Across file systems (a link refused with EXDEV) every maildir gets its
// own complete copy.
func TestDeliverCopiesWhenLinkIsRefused(t *testing.T) {
	ops := fsOps{sync: (*os.File).Sync, link: func(string, string) error { return syscall.EXDEV }, rename: os.Rename}
	dirs := maildirs(t, "alice", "bob")
	if err := ops.deliver(dirs, "h", nil, strings.NewReader("Subject: s\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if count(t, filepath.Join(d, "new")) != 1 || count(t, filepath.Join(d, "tmp")) != 0 {
			t.Fatalf("%s: want one message in new, none in tmp", d)
		}
	}
}
