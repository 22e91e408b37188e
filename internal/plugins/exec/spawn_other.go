//go:build !linux

package exec

import (
	"errors"
	"os"
	"syscall"
)

// spawned is a program an exec service started: reaped by wait.
type spawned struct {
	pid int
}

// spawn starts path on the descriptors files (0, 1, 2 in the program)
// with exactly env, in its own process group.
func spawn(path string, args, env []string, dir string, files []uintptr, cred *syscall.Credential) (*spawned, error) {
	pid, err := syscall.ForkExec(path, args, &syscall.ProcAttr{Dir: dir, Env: env, Files: files, Sys: sysProcAttr(cred)})
	if err != nil {
		return nil, err
	}
	return &spawned{pid: pid}, nil
}

// wait blocks a thread until the child has exited and reaps it (reap is
// the Linux build's way of reaping under the caller's lock).
func (c *spawned) wait(func() (syscall.WaitStatus, bool, error)) (syscall.WaitStatus, error) {
	for {
		var ws syscall.WaitStatus
		_, err := syscall.Wait4(c.pid, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return ws, os.NewSyscallError("wait4", err)
		}
		return ws, nil
	}
}

func (c *spawned) tryReap() (syscall.WaitStatus, bool, error) { return 0, true, nil }

// stderrPipe is a program's stderr: the read end in Go's poller, the
// write end a descriptor for spawn, both close-on-exec.
func stderrPipe() (*os.File, int, error) {
	var p [2]int
	syscall.ForkLock.RLock()
	err := syscall.Pipe(p[:])
	if err == nil {
		syscall.CloseOnExec(p[0])
		syscall.CloseOnExec(p[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, -1, os.NewSyscallError("pipe", err)
	}
	_ = syscall.SetNonblock(p[0], true)
	return os.NewFile(uintptr(p[0]), "stderr"), p[1], nil
}
