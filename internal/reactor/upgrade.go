package reactor

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/twistd-go/twistd/endpoint"
)

// The environment of a process started by an upgrade (SIGUSR2): its
// predecessor's sockets are on descriptors 3 onwards, as systemd's
// LISTEN_FDS, and UpgradeFDNamesEnv names, colon-separated, the owners
// of each (OwnerName, comma-separated), so every socket finds its service
// endpoint again even when the file asks for port 0.
const (
	UpgradeFDsEnv     = "TWISTD_UPGRADE_FDS"
	UpgradeFDNamesEnv = "TWISTD_UPGRADE_FDNAMES"
	// firstPassedFD is where the passed sockets begin.
	firstPassedFD = 3
)

// OwnerName names the i-th listen endpoint of a service in an upgrade's
// hand-over. Service names never hold '#', ',' or ':'.
func OwnerName(service string, i int) string { return service + "#" + strconv.Itoa(i) }

// passedSockets are the sockets a predecessor handed down.
type passedSockets struct {
	files  []*os.File
	owners [][]string
	taken  []bool
}

// inheritPassed takes the sockets of UpgradeFDsEnv from the environment
// (none when it is unset) and makes them close-on-exec, so nothing this
// process starts inherits them.
func inheritPassed() *passedSockets {
	ps := &passedSockets{}
	n, err := strconv.Atoi(os.Getenv(UpgradeFDsEnv))
	names := strings.Split(os.Getenv(UpgradeFDNamesEnv), ":")
	os.Unsetenv(UpgradeFDsEnv)
	os.Unsetenv(UpgradeFDNamesEnv)
	if err != nil || n <= 0 || n > 65536 {
		return ps
	}
	for i := 0; i < n; i++ {
		fd := firstPassedFD + i
		unix.CloseOnExec(fd)
		var owners []string
		if i < len(names) && names[i] != "" {
			owners = strings.Split(names[i], ",")
		}
		ps.files = append(ps.files, os.NewFile(uintptr(fd), "upgrade:"+strconv.Itoa(i)))
		ps.owners = append(ps.owners, owners)
	}
	ps.taken = make([]bool, n)
	return ps
}

// matching returns the passed socket for owner's endpoint ep: the one the
// predecessor used for that very endpoint, if it still fits ep (same kind;
// same address unless ep asks for port 0), else one bound to ep's address.
// ok is false when there is none, and ep is to be bound.
func (ps *passedSockets) matching(owner string, ep endpoint.Endpoint) (*socket, bool, error) {
	if ps == nil || len(ps.files) == 0 {
		return nil, false, nil
	}
	for i, f := range ps.files {
		if ps.taken[i] || owner == "" || !slices.Contains(ps.owners[i], owner) || !fits(f, ep) {
			continue
		}
		return ps.take(i, ep)
	}
	if ep.Kind == endpoint.Systemd || (ep.Port == 0 && ep.Kind != endpoint.Unix) {
		return nil, false, nil
	}
	for i, f := range ps.files {
		if !ps.taken[i] && sameAddress(f, ep) {
			return ps.take(i, ep)
		}
	}
	return nil, false, nil
}

// fits reports whether the socket in f can serve ep.
func fits(f *os.File, ep endpoint.Endpoint) bool {
	if ep.Kind == endpoint.Systemd {
		return true
	}
	if ep.Port == 0 && ep.Kind != endpoint.Unix {
		sa, err := unix.Getsockname(int(f.Fd()))
		if err != nil {
			return false
		}
		switch sa := sa.(type) {
		case *unix.SockaddrInet4:
			ep.Port = sa.Port
		case *unix.SockaddrInet6:
			ep.Port = sa.Port
		default:
			return false
		}
	}
	return sameAddress(f, ep)
}

func (ps *passedSockets) take(i int, ep endpoint.Endpoint) (*socket, bool, error) {
	ps.taken[i] = true
	s, err := fileSocket(ps.files[i])
	ps.files[i].Close() // fileSocket made a descriptor of its own
	if err != nil {
		return nil, true, fmt.Errorf("socket passed by the previous process: %w", err)
	}
	if ul, ok := s.ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(true) // ours now, as if we had bound it
	}
	return s, true, nil
}

// closeUnadopted closes the passed sockets no endpoint took: the
// predecessor's for services the file no longer has.
func (p *Pool) closeUnadopted() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.passed == nil {
		return
	}
	for i, f := range p.passed.files {
		if !p.passed.taken[i] {
			p.passed.taken[i] = true
			f.Close()
		}
	}
}

// Handoff returns a copy of every socket the pool holds, for a successor
// (an upgrade): its descriptor (close-on-exec; the caller closes it) and
// its owners, comma-separated, for UpgradeFDNamesEnv.
func (p *Pool) Handoff() ([]*os.File, []string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var files []*os.File
	var names []string
	fail := func(err error) ([]*os.File, []string, error) {
		for _, f := range files {
			f.Close()
		}
		return nil, nil, err
	}
	keys := make([]string, 0, len(p.sockets))
	for k := range p.sockets {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		s := p.sockets[k]
		if s.closed {
			continue
		}
		var sc syscall.Conn
		var ok bool
		if s.ln != nil {
			sc, ok = s.ln.(syscall.Conn)
		} else {
			sc, ok = s.pc.(syscall.Conn)
		}
		if !ok {
			return fail(fmt.Errorf("socket %s cannot be passed on", k))
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return fail(fmt.Errorf("socket %s: %w", k, err))
		}
		var nfd int
		var derr error
		if err := rc.Control(func(fd uintptr) { nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
			return fail(fmt.Errorf("socket %s: %w", k, err))
		}
		if derr != nil {
			return fail(fmt.Errorf("socket %s: dup: %w", k, derr))
		}
		owners := make([]string, 0, len(s.owners))
		for o := range s.owners {
			owners = append(owners, o)
		}
		slices.Sort(owners)
		files = append(files, os.NewFile(uintptr(nfd), k))
		names = append(names, strings.Join(owners, ","))
	}
	return files, names, nil
}

// HandedOver records that a successor serves the pool's sockets: from
// now on closing them leaves unix socket paths and lockfiles in place.
func (p *Pool) HandedOver() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.handedOver = true
	for _, s := range p.sockets {
		if ul, ok := s.ln.(*net.UnixListener); ok {
			ul.SetUnlinkOnClose(false)
		}
	}
}

// Handoff returns a copy of every bound socket and its owners, for an
// upgrade's successor (see Pool.Handoff).
func (r *Reactor) Handoff() ([]*os.File, []string, error) { return r.pool.Handoff() }

// HandedOver records that a successor now serves the sockets Handoff gave.
func (r *Reactor) HandedOver() { r.pool.HandedOver() }
