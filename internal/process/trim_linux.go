package process

import (
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// TrimText drops this process's page-table entries for the read-only
// parts of its own executable (code and constants), so the resident set
// is what serving touches again, not everything start-up ran once: every
// package's initialiser, the flag and file parsers. The pages stay in
// the page cache; a page needed again comes back with a minor fault. It
// halves an idle daemon's RSS (BENCHMARKS.md). Writable mappings are
// left alone: their pages hold data.
func TrimText() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return
	}
	for _, line := range bytes.Split(maps, []byte("\n")) {
		// 00400000-00abc000 r-xp 00000000 08:01 1234   /path/to/twistd
		f := bytes.Fields(line)
		if len(f) < 6 || string(f[5]) != exe || len(f[1]) < 2 || f[1][1] != '-' {
			continue
		}
		lo, hi, ok := bytes.Cut(f[0], []byte("-"))
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(string(lo), 16, 64)
		end, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		// By address: these pages are not Go memory, so no slice may name them.
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
	}
}
