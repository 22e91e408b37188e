package exec

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// spawned is a program an exec service started: reaped by wait.
type spawned struct {
	pid   int
	pidfd *os.File // in Go's poller; nil where the kernel gives none
}

// spawn starts path on the descriptors files (0, 1, 2 in the program)
// with exactly env, in its own process group. The parent waits for the
// child without an OS thread per child: the pidfd the clone returns is
// readable once the child has exited, and the poller watches it.
func spawn(path string, args, env []string, dir string, files []uintptr, cred *syscall.Credential) (*spawned, error) {
	pidfd := -1
	attr := sysProcAttr(cred)
	attr.PidFD = &pidfd
	pid, err := syscall.ForkExec(path, args, &syscall.ProcAttr{Dir: dir, Env: env, Files: files, Sys: attr})
	if err != nil {
		return nil, err
	}
	c := &spawned{pid: pid}
	if pidfd >= 0 {
		if unix.SetNonblock(pidfd, true) == nil {
			// Nonblocking, so os.NewFile puts it in the poller.
			c.pidfd = os.NewFile(uintptr(pidfd), "pidfd")
		} else {
			unix.Close(pidfd)
		}
	}
	return c, nil
}

// wait blocks until the child has exited, then reaps it with reap (which
// must call tryReap, under whatever lock keeps signals from a reaped pid).
func (c *spawned) wait(reap func() (syscall.WaitStatus, bool, error)) (syscall.WaitStatus, error) {
	var ws syscall.WaitStatus
	var werr error
	if c.pidfd != nil {
		defer c.pidfd.Close()
		rc, err := c.pidfd.SyscallConn()
		if err == nil {
			err = rc.Read(func(uintptr) bool {
				var done bool
				ws, done, werr = reap()
				return done || werr != nil
			})
		}
		if err == nil {
			return ws, werr
		}
	}
	// No pidfd: block a thread until the child exits (without reaping
	// it, so the reap stays under the caller's lock).
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, c.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err == nil || !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	for {
		ws, done, err := reap()
		if done || err != nil {
			return ws, err
		}
	}
}

// tryReap reaps the child if it has exited: done tells.
func (c *spawned) tryReap() (ws syscall.WaitStatus, done bool, err error) {
	for {
		pid, err := syscall.Wait4(c.pid, &ws, syscall.WNOHANG, nil)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case err != nil:
			return ws, false, os.NewSyscallError("wait4", err)
		}
		return ws, pid == c.pid, nil
	}
}

// stderrPipe is a program's stderr: the read end in Go's poller (a reader
// costs a goroutine, not a thread, and takes deadlines), the write end a
// descriptor for spawn, both close-on-exec.
func stderrPipe() (*os.File, int, error) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return nil, -1, os.NewSyscallError("pipe2", err)
	}
	_ = syscall.SetNonblock(p[0], true)
	return os.NewFile(uintptr(p[0]), "stderr"), p[1], nil
}
