package exec

import (
	"os"
	"strconv"
	"syscall"
)

func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	// Pdeathsig is tied to the thread that forks; Go does not end its
	// threads while twistd runs (no goroutine of ours locks one), so it
	// fires when the process dies.
	return &syscall.SysProcAttr{Setpgid: true, Credential: cred, Pdeathsig: syscall.SIGKILL}
}

// CloseInherited marks every descriptor above 2 close-on-exec, so none of
// them reaches a program: Go opens its own that way, but one inherited
// from whoever started twistd may not be.
func CloseInherited() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}
