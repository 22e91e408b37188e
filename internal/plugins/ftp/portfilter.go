package ftp

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"sync"
)

// maxFilterLine is the longest command line the filter looks at; a
// longer one passes untouched (the library refuses it anyway).
const maxFilterLine = 4096

// portFilter is a control connection that refuses active-mode data
// connections to privileged ports (below 1024), as vsftpd does without
// port_promiscuous: a PORT or EPRT naming one reaches the library with
// an argument it cannot parse, so the client gets a 501 and nothing is
// dialled. (The library itself refuses an address other than the
// client's.) The filter reads the clear text only: once the client asks
// for AUTH, it steps aside, as what follows is TLS.
type portFilter struct {
	net.Conn

	mu      sync.Mutex
	partial []byte // the start of a line not yet ended
	out     []byte // filtered bytes not yet returned
	off     bool   // AUTH was asked for: pass everything through
	tlsOK   bool   // a certificate is configured, so AUTH may succeed
}

func newPortFilter(c net.Conn, tlsOK bool) net.Conn { return &portFilter{Conn: c, tlsOK: tlsOK} }

// refused is what a privileged PORT or EPRT argument becomes.
const refused = "refused:privileged-port"

func (f *portFilter) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.out) == 0 {
		if f.off {
			if len(f.partial) > 0 {
				f.out, f.partial = f.partial, nil
				break
			}
			f.mu.Unlock()
			n, err := f.Conn.Read(p)
			f.mu.Lock()
			return n, err
		}
		buf := make([]byte, 4096)
		f.mu.Unlock()
		n, err := f.Conn.Read(buf)
		f.mu.Lock()
		f.partial = append(f.partial, buf[:n]...)
		f.scan()
		if len(f.out) == 0 && err != nil {
			if len(f.partial) > 0 {
				f.out, f.partial = f.partial, nil
				break
			}
			return 0, err
		}
	}
	n := copy(p, f.out)
	f.out = f.out[n:]
	return n, nil
}

// scan moves the complete lines of partial to out, rewriting what it must.
func (f *portFilter) scan() {
	for !f.off {
		i := bytes.IndexByte(f.partial, '\n')
		if i < 0 {
			if len(f.partial) > maxFilterLine {
				f.out = append(f.out, f.partial...)
				f.partial = nil
			}
			return
		}
		line := f.partial[:i+1]
		f.partial = f.partial[i+1:]
		f.out = append(f.out, filterLine(line)...)
		if f.tlsOK && isAuth(line) {
			f.off = true
		}
	}
}

func isAuth(line []byte) bool {
	cmd, _, _ := strings.Cut(strings.TrimSpace(string(line)), " ")
	return strings.EqualFold(cmd, "AUTH")
}

// filterLine returns line, or a PORT/EPRT line naming a privileged port
// with its argument replaced.
func filterLine(line []byte) []byte {
	text := strings.TrimRight(string(line), "\r\n")
	cmd, arg, _ := strings.Cut(text, " ")
	var port int
	switch strings.ToUpper(cmd) {
	case "PORT":
		parts := strings.Split(strings.TrimSpace(arg), ",")
		if len(parts) != 6 {
			return line
		}
		hi, err1 := strconv.Atoi(strings.TrimSpace(parts[4]))
		lo, err2 := strconv.Atoi(strings.TrimSpace(parts[5]))
		if err1 != nil || err2 != nil {
			return line
		}
		port = hi<<8 | lo
	case "EPRT":
		arg = strings.TrimSpace(arg)
		if len(arg) < 2 {
			return line
		}
		parts := strings.Split(arg[1:], arg[:1])
		if len(parts) < 3 {
			return line
		}
		n, err := strconv.Atoi(parts[2])
		if err != nil {
			return line
		}
		port = n
	default:
		return line
	}
	if port >= 1024 {
		return line
	}
	return []byte(cmd + " " + refused + "\r\n")
}
