//go:build !linux

package exec

import "syscall"

func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Credential: cred}
}

// CloseInherited is a no-op where /proc/self/fd is missing.
func CloseInherited() {}
