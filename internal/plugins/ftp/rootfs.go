package ftp

import (
	"errors"
	"os"
	"path"
	"strings"
	"time"

	"github.com/spf13/afero"
)

// rootFs is an afero.Fs confined to one directory by an os.Root: every
// name is resolved inside it by the kernel-checked walk os.Root does, so
// neither "..", nor an absolute path, nor a symbolic link pointing out of
// the directory reaches anything outside it.
type rootFs struct {
	root *os.Root
}

// openRoot opens dir as the root of an FTP site.
func openRoot(dir string) (*rootFs, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &rootFs{root: r}, nil
}

// rel turns an FTP path (absolute, from the client's working directory)
// into a name relative to the root. path.Clean of a rooted path never
// climbs above "/", and os.Root refuses whatever else escapes.
func rel(name string) string {
	name = strings.TrimLeft(path.Clean("/"+name), "/")
	if name == "" {
		return "."
	}
	return name
}

// errNotDir is returned for a Chown of the root itself and alike.
var errRoot = errors.New("the root itself cannot be changed")

func (f *rootFs) Create(name string) (afero.File, error) {
	return f.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

func (f *rootFs) Mkdir(name string, perm os.FileMode) error { return f.root.Mkdir(rel(name), perm) }

func (f *rootFs) MkdirAll(name string, perm os.FileMode) error {
	return f.root.MkdirAll(rel(name), perm)
}

func (f *rootFs) Open(name string) (afero.File, error) {
	file, err := f.root.Open(rel(name))
	if err != nil {
		return nil, err
	}
	return file, nil
}

func (f *rootFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	file, err := f.root.OpenFile(rel(name), flag, perm)
	if err != nil {
		return nil, err
	}
	return file, nil
}

func (f *rootFs) Remove(name string) error {
	if rel(name) == "." {
		return &os.PathError{Op: "remove", Path: name, Err: errRoot}
	}
	return f.root.Remove(rel(name))
}

func (f *rootFs) RemoveAll(name string) error {
	if rel(name) == "." {
		return &os.PathError{Op: "removeall", Path: name, Err: errRoot}
	}
	return f.root.RemoveAll(rel(name))
}

func (f *rootFs) Rename(oldname, newname string) error {
	if rel(oldname) == "." {
		return &os.PathError{Op: "rename", Path: oldname, Err: errRoot}
	}
	return f.root.Rename(rel(oldname), rel(newname))
}

func (f *rootFs) Stat(name string) (os.FileInfo, error) { return f.root.Stat(rel(name)) }

// LstatIfPossible implements afero.Lstater, so listings show a link as a link.
func (f *rootFs) LstatIfPossible(name string) (os.FileInfo, bool, error) {
	fi, err := f.root.Lstat(rel(name))
	return fi, true, err
}

func (f *rootFs) Name() string { return "rootfs" }

func (f *rootFs) Chmod(name string, mode os.FileMode) error {
	return f.root.Chmod(rel(name), mode)
}

func (f *rootFs) Chown(name string, uid, gid int) error {
	return f.root.Chown(rel(name), uid, gid)
}

func (f *rootFs) Chtimes(name string, atime, mtime time.Time) error {
	return f.root.Chtimes(rel(name), atime, mtime)
}

// Close releases the root's descriptor.
func (f *rootFs) Close() error { return f.root.Close() }

var (
	_ afero.Fs      = (*rootFs)(nil)
	_ afero.Lstater = (*rootFs)(nil)
)
