//go:build !linux || !(amd64 || arm64 || riscv64)

package web

// freshStamp is not available here: fileCache.fresh stats through the
// root instead.
func freshStamp(int, []byte) (stamp, bool) { return stamp{}, false }

// canFreshStat reports whether freshStamp works on this platform.
const canFreshStat = false
