package ftp

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
)

// maxFilterLine is the longest command line the filter looks at; a
// longer one passes untouched (the library refuses it anyway).
const maxFilterLine = 4096

// portFilter is a control connection that refuses active-mode data
// connections to privileged ports (below 1024), as vsftpd does without
// port_promiscuous: a PORT or EPRT naming one reaches the library with
// an argument it cannot parse, so the client gets a 501 and nothing is
// dialled. (The library itself refuses an address other than the
// client's.)
//
// The filter must see the commands in clear text, also after AUTH TLS,
// where the library would wrap this connection in TLS. So when the
// library accepts AUTH (answers 234), the filter ends the client's TLS
// itself (the same certificate) and hands the library, over an
// in-memory pipe, a second TLS session of its own: the library's
// checks (TLS required, PROT P) see TLS, the filter sees the commands.
type portFilter struct {
	net.Conn // the reactor's connection to the client

	tlsConfig func() *tls.Config // the certificate, as the library has it; nil: no TLS
	timeout   time.Duration      // bounds the client's TLS handshake
	cmds      *cmdFilter         // used by Read, then by relay after AUTH: never at once

	mu       sync.Mutex
	partial  []byte   // the start of a line not yet ended
	out      []byte   // filtered bytes not yet returned
	authSent bool     // AUTH went to the library; its answer decides
	tunnel   net.Conn // after AUTH: the library's end of the pipe
}

// newPortFilter filters c's commands; site is the SITE argument prefix
// whose replies the driver writes (see cmdFilter).
func newPortFilter(c net.Conn, tlsConfig func() *tls.Config, timeout time.Duration, site string) net.Conn {
	cmds := &cmdFilter{site: site}
	if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
		cmds.ipv6 = a.IP.To4() == nil
	}
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		cmds.peer = a.IP
	}
	return &portFilter{Conn: c, tlsConfig: tlsConfig, timeout: timeout, cmds: cmds}
}

// refused is what a privileged PORT or EPRT argument becomes.
const refused = "refused:privileged-port"

func (f *portFilter) current() net.Conn {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tunnel
}

func (f *portFilter) Read(p []byte) (int, error) {
	if t := f.current(); t != nil {
		return t.Read(p)
	}
	for {
		f.mu.Lock()
		if len(f.out) > 0 {
			n := copy(p, f.out)
			f.out = f.out[n:]
			f.mu.Unlock()
			return n, nil
		}
		f.mu.Unlock()
		buf := make([]byte, 4096)
		n, err := f.Conn.Read(buf)
		f.mu.Lock()
		f.partial = append(f.partial, buf[:n]...)
		f.scanLocked()
		if len(f.out) == 0 && err != nil {
			if len(f.partial) > 0 {
				f.out, f.partial = f.partial, nil
			} else {
				f.mu.Unlock()
				return 0, err
			}
		}
		f.mu.Unlock()
	}
}

// scanLocked moves the complete lines of partial to out, rewriting what
// it must. It stops after an AUTH: what follows may be TLS.
func (f *portFilter) scanLocked() {
	for !f.authSent {
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
		f.out = append(f.out, f.cmds.line(line)...)
		if f.tlsConfig != nil && isAuth(line) {
			f.authSent = true
		}
	}
}

func (f *portFilter) Write(p []byte) (int, error) {
	if t := f.current(); t != nil {
		return t.Write(p)
	}
	n, err := f.Conn.Write(p)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.authSent {
		return n, err
	}
	f.authSent = false
	if err != nil || !bytes.HasPrefix(p, []byte("234")) {
		// AUTH refused: go on in clear text.
		f.scanLocked()
		return n, err
	}
	cfg := f.tlsConfig()
	if cfg == nil {
		return n, errors.New("AUTH accepted without a certificate")
	}
	lib, ours := net.Pipe()
	f.tunnel = lib
	rest := f.partial
	f.partial = nil
	go f.relay(cfg, ours, rest)
	return n, nil
}

// relay ends the client's TLS, opens a TLS session to the library over
// the pipe, and copies between them, filtering the client's commands.
func (f *portFilter) relay(cfg *tls.Config, pipe net.Conn, early []byte) {
	defer f.closeAll(pipe)
	raw := net.Conn(f.Conn)
	if len(early) > 0 {
		raw = &prefixed{Conn: f.Conn, r: io.MultiReader(bytes.NewReader(early), f.Conn)}
	}
	client := tls.Server(raw, cfg)
	_ = f.Conn.SetDeadline(time.Now().Add(f.timeout))
	if err := client.Handshake(); err != nil {
		return
	}
	_ = f.Conn.SetDeadline(time.Time{})
	lib := tls.Client(pipe, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}) //nolint:gosec // our own pipe
	if err := lib.Handshake(); err != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(client, lib)
		_ = client.CloseWrite()
	}()
	var partial []byte
	buf := make([]byte, 4096)
	for {
		n, err := client.Read(buf)
		partial = append(partial, buf[:n]...)
		for {
			i := bytes.IndexByte(partial, '\n')
			if i < 0 {
				if len(partial) > maxFilterLine {
					if _, werr := lib.Write(partial); werr != nil {
						return
					}
					partial = nil
				}
				break
			}
			if _, werr := lib.Write(f.cmds.line(partial[:i+1])); werr != nil {
				return
			}
			partial = partial[i+1:]
		}
		if err != nil {
			_ = lib.CloseWrite()
			<-done
			return
		}
	}
}

func (f *portFilter) closeAll(pipe net.Conn) {
	_ = pipe.Close()
	_ = f.Conn.Close()
}

func (f *portFilter) Close() error {
	if t := f.current(); t != nil {
		_ = t.Close()
	}
	return f.Conn.Close()
}

func (f *portFilter) SetDeadline(t time.Time) error {
	if c := f.current(); c != nil {
		return c.SetDeadline(t)
	}
	return f.Conn.SetDeadline(t)
}

func (f *portFilter) SetReadDeadline(t time.Time) error {
	if c := f.current(); c != nil {
		return c.SetReadDeadline(t)
	}
	return f.Conn.SetReadDeadline(t)
}

func (f *portFilter) SetWriteDeadline(t time.Time) error {
	if c := f.current(); c != nil {
		return c.SetWriteDeadline(t)
	}
	return f.Conn.SetWriteDeadline(t)
}

// prefixed is a connection whose first bytes were already read.
type prefixed struct {
	net.Conn
	r io.Reader
}

func (p *prefixed) Read(b []byte) (int, error) { return p.r.Read(b) }

func isAuth(line []byte) bool {
	cmd, _, _ := strings.Cut(strings.TrimSpace(string(line)), " ")
	return strings.EqualFold(cmd, "AUTH")
}

// cmdFilter rewrites the data-connection commands of one control
// connection where the library would get them wrong:
//   - PORT and EPRT naming a privileged port get an argument the library
//     cannot parse (a 501);
//   - PASV on IPv6, which can name only an IPv4 address, gets RFC 2428's
//     522 (the library would answer 421 and keep a passive port bound
//     for ever: a few PASVs would use up the range);
//   - EPSV and EPRT with the other family's number get 522 naming ours
//     (RFC 2428 section 2 and 3), a number that is not one a 501;
//   - EPSV ALL gets 200, and from then on PASV, PORT and EPRT are refused
//     (RFC 2428 section 4), which the library knows nothing of;
//   - EPRT naming the unspecified address (lftp's "|2|::|port|" on IPv6
//     loopback) gets the client's own address, the only one the library
//     connects to anyway.
//
// A reply of its own it sends as "SITE <site> <code> <text>", which the
// driver answers (Site): so it comes in order with the library's other
// replies, after a login like every such command. site is random per
// server, so a client cannot make the driver say what it likes.
type cmdFilter struct {
	ipv6    bool   // the control connection is IPv6 (not IPv4-mapped)
	site    string // the SITE argument prefix of our replies
	epsvAll bool   // EPSV ALL was given
	peer    net.IP // the client's address; nil: unknown
}

// family is the RFC 2428 network protocol number of the connection.
func (c *cmdFilter) family() string {
	if c.ipv6 {
		return "2"
	}
	return "1"
}

func (c *cmdFilter) reply(code int, text string) []byte {
	return []byte("SITE " + c.site + " " + strconv.Itoa(code) + " " + text + "\r\n")
}

func (c *cmdFilter) wrongFamily() []byte {
	return c.reply(522, "Network protocol not supported, use ("+c.family()+")")
}

// line returns the line the library gets for a command line.
func (c *cmdFilter) line(line []byte) []byte {
	text := strings.TrimRight(string(line), "\r\n")
	cmd, arg, _ := strings.Cut(text, " ")
	var port int
	switch verb := strings.ToUpper(cmd); verb {
	case "EPSV":
		switch a := strings.TrimSpace(arg); {
		case a == "":
			return line
		case strings.EqualFold(a, "ALL"):
			c.epsvAll = true
			return c.reply(200, "EPSV ALL ok: only EPSV from now on")
		case a == c.family():
			return []byte(cmd + "\r\n")
		case isDigits(a):
			return c.wrongFamily()
		default:
			return c.reply(501, "EPSV takes a network protocol number or ALL")
		}
	case "PASV", "PORT", "EPRT":
		if c.epsvAll {
			return c.reply(503, verb+" after EPSV ALL: use EPSV")
		}
		if verb == "PASV" {
			if c.ipv6 {
				return c.wrongFamily()
			}
			return line
		}
		if verb == "PORT" {
			if c.ipv6 {
				return c.wrongFamily()
			}
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
			break
		}
		arg = strings.TrimSpace(arg)
		if len(arg) < 2 {
			return line
		}
		parts := strings.Split(arg[1:], arg[:1])
		if len(parts) < 3 {
			return line
		}
		if isDigits(parts[0]) && parts[0] != c.family() {
			return c.wrongFamily()
		}
		n, err := strconv.Atoi(parts[2])
		if err != nil {
			return line
		}
		port = n
		if ip := net.ParseIP(parts[1]); ip != nil && ip.IsUnspecified() && c.peer != nil && port >= 1024 {
			return []byte(cmd + " " + arg[:1] + parts[0] + arg[:1] + c.peer.String() + arg[:1] + parts[2] + arg[:1] + "\r\n")
		}
	default:
		return line
	}
	if port >= 1024 {
		return line
	}
	return []byte(cmd + " " + refused + "\r\n")
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// siteReply is the driver's answer to a SITE command: one of the filter's
// replies when the argument starts with site, else SITE's refusal (we
// offer no SITE commands).
func siteReply(site, param string) *ftpserver.AnswerCommand {
	if rest, ok := strings.CutPrefix(param, site+" "); ok && site != "" {
		code, text, _ := strings.Cut(rest, " ")
		if n, err := strconv.Atoi(code); err == nil && n >= 200 && n < 600 {
			return &ftpserver.AnswerCommand{Code: n, Message: text}
		}
	}
	return &ftpserver.AnswerCommand{Code: 500, Message: "SITE support is disabled"}
}
