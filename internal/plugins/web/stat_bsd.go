//go:build darwin || freebsd

package web

import "syscall"

// ctimeNano is the file's inode change time, in nanoseconds.
func ctimeNano(st *syscall.Stat_t) int64 { return st.Ctimespec.Nano() }
