package test

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// breakSocket reaches into process pid and shuts down its socket bound to
// addr (SHUT_RDWR on a duplicate got with pidfd_getfd), so the process's
// own descriptor stays open but is dead: accept fails with EINVAL and
// epoll reports the socket hung up. network is "tcp" or "udp".
func breakSocket(t *testing.T, pid int, network, addr string) {
	t.Helper()
	want, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Skipf("pidfd_open: %v", err)
	}
	defer unix.Close(pidfd)
	fdDir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	entries, err := os.ReadDir(fdDir)
	if err != nil {
		t.Fatal(err)
	}
	sockType := unix.SOCK_STREAM
	if network == "udp" {
		sockType = unix.SOCK_DGRAM
	}
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(fdDir, e.Name()))
		if err != nil || len(target) < 7 || target[:7] != "socket:" {
			continue
		}
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fd, err := unix.PidfdGetfd(pidfd, n, 0)
		if err != nil {
			t.Skipf("pidfd_getfd: %v (needs root or ptrace rights)", err)
		}
		typ, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
		sa, _ := unix.Getsockname(fd)
		var port int
		var ip net.IP
		switch sa := sa.(type) {
		case *unix.SockaddrInet4:
			port, ip = sa.Port, net.IP(sa.Addr[:])
		case *unix.SockaddrInet6:
			port, ip = sa.Port, net.IP(sa.Addr[:])
		}
		listening := true
		if network == "tcp" {
			acc, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
			listening = acc == 1
		}
		if typ == sockType && listening && port == want.Port && ip.Equal(want.IP) {
			err := unix.Shutdown(fd, unix.SHUT_RDWR)
			unix.Close(fd)
			if err != nil {
				t.Fatalf("shutdown of %s's socket: %v", addr, err)
			}
			return
		}
		unix.Close(fd)
	}
	t.Fatalf("process %d has no %s socket bound to %s", pid, network, addr)
}
