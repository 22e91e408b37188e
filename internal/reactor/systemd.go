package reactor

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/coreos/go-systemd/v22/activation"
	"golang.org/x/sys/unix"

	"github.com/twistd-go/twistd/endpoint"
)

// inherited holds the sockets systemd passed (LISTEN_FDS), in order.
type inherited struct {
	files []*os.File
	taken []bool
}

func inheritSockets() *inherited {
	files := activation.Files(true)
	return &inherited{files: files, taken: make([]bool, len(files))}
}

// matching returns an inherited socket bound to the address ep names
// (tcp, udp or unix), so a unit run with socket activation uses it instead
// of binding; ok is false when there is none.
func (in *inherited) matching(ep endpoint.Endpoint) (*socket, bool, error) {
	for i, f := range in.files {
		if in.taken[i] || !sameAddress(f, ep) {
			continue
		}
		in.taken[i] = true
		s, err := fileSocket(f)
		return s, true, err
	}
	return nil, false, nil
}

// sameAddress reports whether the socket in f is of ep's kind and bound
// to ep's address (a wildcard interface matching a wildcard bind).
func sameAddress(f *os.File, ep endpoint.Endpoint) bool {
	typ, err := unix.GetsockoptInt(int(f.Fd()), unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil || (typ == unix.SOCK_DGRAM) != (ep.Kind == endpoint.UDP) {
		return false
	}
	sa, err := unix.Getsockname(int(f.Fd()))
	if err != nil {
		return false
	}
	switch sa := sa.(type) {
	case *unix.SockaddrUnix:
		return ep.Kind == endpoint.Unix && sa.Name == ep.Path
	case *unix.SockaddrInet4:
		return ep.Kind != endpoint.Unix && ep.Port == sa.Port && sameHost(ep.Interface, net.IP(sa.Addr[:]))
	case *unix.SockaddrInet6:
		return ep.Kind != endpoint.Unix && ep.Port == sa.Port && sameHost(ep.Interface, net.IP(sa.Addr[:]))
	}
	return false
}

func sameHost(iface string, ip net.IP) bool {
	if iface == "" || iface == "0.0.0.0" || iface == "::" {
		return ip.IsUnspecified()
	}
	want := net.ParseIP(iface)
	return want != nil && want.Equal(ip)
}

// fileSocket turns an inherited descriptor into a listener or packet conn.
func fileSocket(f *os.File) (*socket, error) {
	typ, err := unix.GetsockoptInt(int(f.Fd()), unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return nil, fmt.Errorf("inherited fd %d is not a socket: %w", f.Fd(), err)
	}
	if typ == unix.SOCK_DGRAM {
		pc, err := net.FilePacketConn(f)
		if err != nil {
			return nil, err
		}
		return &socket{pc: pc}, nil
	}
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, err
	}
	return &socket{ln: ln}, nil
}

// take returns the inherited socket a systemd: endpoint names: by position
// (domain=INET:index=N, as Twisted) or by FileDescriptorName (name=NAME).
func (in *inherited) take(ep endpoint.Endpoint) (*socket, error) {
	if len(in.files) == 0 {
		return nil, errors.New("no sockets inherited from systemd (LISTEN_FDS is not set)")
	}
	i := -1
	if ep.SystemdName != "" {
		for j, c := range in.files {
			if c.Name() == ep.SystemdName {
				i = j
				break
			}
		}
		if i < 0 {
			return nil, fmt.Errorf("systemd passed no socket named %q", ep.SystemdName)
		}
	} else {
		if ep.SystemdIndex >= len(in.files) {
			return nil, fmt.Errorf("systemd passed %d sockets; index %d is out of range", len(in.files), ep.SystemdIndex)
		}
		i = ep.SystemdIndex
		if err := checkDomain(in.files[i], ep.SystemdDomain); err != nil {
			return nil, err
		}
	}
	in.taken[i] = true
	return fileSocket(in.files[i])
}

func checkDomain(f *os.File, domain string) error {
	want := map[string]int{"INET": unix.AF_INET, "INET6": unix.AF_INET6, "UNIX": unix.AF_UNIX}[domain]
	if want == 0 {
		return nil
	}
	// The bound address tells the domain on every system (SO_DOMAIN is
	// Linux's and FreeBSD's only).
	sa, err := unix.Getsockname(int(f.Fd()))
	if err != nil {
		return fmt.Errorf("inherited fd %d: %w", f.Fd(), err)
	}
	got := 0
	switch sa.(type) {
	case *unix.SockaddrInet4:
		got = unix.AF_INET
	case *unix.SockaddrInet6:
		got = unix.AF_INET6
	case *unix.SockaddrUnix:
		got = unix.AF_UNIX
	}
	if got != want {
		return fmt.Errorf("inherited socket %d is not of domain %s", f.Fd(), domain)
	}
	return nil
}
