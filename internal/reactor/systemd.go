package reactor

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/coreos/go-systemd/v22/activation"
	"golang.org/x/sys/unix"

	"github.com/twistd-go/twistd/internal/reactor/endpoint"
)

// inherited holds the sockets systemd passed (LISTEN_FDS), in order.
type inherited struct {
	files []*os.File
}

func inheritSockets() *inherited {
	return &inherited{files: activation.Files(true)}
}

// take returns the inherited socket a systemd: endpoint names: by position
// (domain=INET:index=N, as Twisted) or by FileDescriptorName (name=NAME).
func (in *inherited) take(ep endpoint.Endpoint) (*socket, error) {
	if len(in.files) == 0 {
		return nil, errors.New("no sockets inherited from systemd (LISTEN_FDS is not set)")
	}
	var f *os.File
	if ep.SystemdName != "" {
		for _, c := range in.files {
			if c.Name() == ep.SystemdName {
				f = c
				break
			}
		}
		if f == nil {
			return nil, fmt.Errorf("systemd passed no socket named %q", ep.SystemdName)
		}
	} else {
		if ep.SystemdIndex >= len(in.files) {
			return nil, fmt.Errorf("systemd passed %d sockets; index %d is out of range", len(in.files), ep.SystemdIndex)
		}
		f = in.files[ep.SystemdIndex]
		if err := checkDomain(f, ep.SystemdDomain); err != nil {
			return nil, err
		}
	}
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

func checkDomain(f *os.File, domain string) error {
	want := map[string]int{"INET": unix.AF_INET, "INET6": unix.AF_INET6, "UNIX": unix.AF_UNIX}[domain]
	if want == 0 {
		return nil
	}
	got, err := unix.GetsockoptInt(int(f.Fd()), unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return fmt.Errorf("inherited fd %d: %w", f.Fd(), err)
	}
	if got != want {
		return fmt.Errorf("inherited socket %d is not of domain %s", f.Fd(), domain)
	}
	return nil
}
