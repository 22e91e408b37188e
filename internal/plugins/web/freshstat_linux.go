//go:build linux && (amd64 || arm64 || riscv64)

package web

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// freshStamp stats the file whose NUL-terminated name relative to the
// directory dirfd is cname, following symlinks as os.Root.Stat does, and
// reports its stamp and whether it is a regular file. It allocates
// nothing (os.Root.Stat allocates its FileInfo and the path's copies),
// so the event loop's requests make no garbage.
//
// The stat is not confined to the root as os.Root's are: it only
// confirms that a cached entry, read through the root, is still current.
// A name that now leads elsewhere (a directory swapped for a symlink
// out of the root) names another inode, so the stamps differ and the
// request goes to the confined path.
func freshStamp(dirfd int, cname []byte) (stamp, bool) {
	var st unix.Stat_t
	_, _, errno := unix.Syscall6(unix.SYS_NEWFSTATAT, uintptr(dirfd), uintptr(unsafe.Pointer(&cname[0])),
		uintptr(unsafe.Pointer(&st)), 0, 0, 0)
	if errno != 0 || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return stamp{}, false
	}
	return stamp{
		size:  st.Size,
		mtime: st.Mtim.Nano(),
		ctime: st.Ctim.Nano(),
		ino:   st.Ino,
		dev:   uint64(st.Dev), //nolint:unconvert // Dev's type varies by platform
	}, true
}

// canFreshStat reports whether freshStamp works on this platform.
const canFreshStat = true
