package socks

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// The protocol versions, commands, methods and address types of SOCKS 4
// (and 4a) and SOCKS 5 (RFC 1928), and RFC 1929's sub-negotiation.
const (
	version4 = 4
	version5 = 5

	cmdConnect   = 1
	cmdBind      = 2
	cmdAssociate = 3

	methodNone     = 0x00
	methodPassword = 0x02
	methodNoneOK   = 0xff // no acceptable methods

	atypIPv4   = 1
	atypDomain = 3
	atypIPv6   = 4

	authVersion = 1
)

// SOCKS 5 replies (RFC 1928 §6).
const (
	repSucceeded           = 0
	repGeneralFailure      = 1
	repNotAllowed          = 2
	repNetworkUnreachable  = 3
	repHostUnreachable     = 4
	repConnectionRefused   = 5
	repTTLExpired          = 6
	repCommandUnsupported  = 7
	repAddrTypeUnsupported = 8
)

// SOCKS 4 replies: 90 granted, 91 rejected or failed (the only refusal
// a client without identd sees).
const (
	cd4Granted  = 90
	cd4Rejected = 91
)

// replyNames name the SOCKS 5 replies in the connection log and metrics;
// a SOCKS 4 request's outcome is named the same way (its reply on the
// wire is 90 or 91).
var replyNames = [...]string{
	repSucceeded:           "succeeded",
	repGeneralFailure:      "general_failure",
	repNotAllowed:          "not_allowed",
	repNetworkUnreachable:  "network_unreachable",
	repHostUnreachable:     "host_unreachable",
	repConnectionRefused:   "connection_refused",
	repTTLExpired:          "ttl_expired",
	repCommandUnsupported:  "command_not_supported",
	repAddrTypeUnsupported: "address_type_not_supported",
}

func replyName(rep byte) string {
	if int(rep) < len(replyNames) {
		return replyNames[rep]
	}
	return "unknown"
}

// Bounds on the handshake's fields. SOCKS 5 bounds its own (one length
// byte each); SOCKS 4's user id and 4a's host name are NUL-terminated, so
// we bound them ourselves, as Dante does.
const (
	maxUserID = 255
	maxName   = 255
	// maxMessage is more than any handshake message can be: the largest,
	// RFC 1929's, is 3+255+255 bytes. A client that sends more without
	// completing one is cut off.
	maxMessage = 1024
)

// errShort means the buffer holds only the start of a message.
var errShort = errors.New("socks: message incomplete")

// malformedError is a message no server could answer but with an error
// and a close: a wrong version, a zero-length field, an overlong string.
type malformedError struct{ msg string }

func (e *malformedError) Error() string { return "socks: " + e.msg }

func malformed(msg string) error { return &malformedError{msg} }

// replyError is a request that parsed far enough to be answered with a
// SOCKS 5 reply code (7: command, 8: address type) before the close.
type replyError struct {
	rep byte
	msg string
}

func (e *replyError) Error() string { return "socks: " + e.msg }

// request is a parsed CONNECT (or other command) request.
type request struct {
	version byte // 4 or 5
	command byte
	// Exactly one of name and addr is set: the host by name (SOCKS 4a,
	// SOCKS 5 domain) or by address.
	name string
	addr netip.Addr
	port uint16
	// user is the SOCKS 4 user id (not authenticated; logged only).
	user string
}

// socks4a reports whether a SOCKS 4 request named its host (4a).
func (r *request) socks4a() bool { return r.version == version4 && r.name != "" }

// versionName is "4", "4a" or "5", for logs and metrics.
func (r *request) versionName() string {
	switch {
	case r.version == version5:
		return "5"
	case r.socks4a():
		return "4a"
	}
	return "4"
}

// parseV4 parses a SOCKS 4 or 4a request:
//
//	VN=4 CD DSTPORT(2) DSTIP(4) USERID... NUL [HOST... NUL]  (4a: DSTIP 0.0.0.x, x != 0)
//
// It returns the request and how many bytes it took, errShort when b
// holds only part of one, or a *malformedError.
func parseV4(b []byte) (request, int, error) {
	if len(b) < 1 {
		return request{}, 0, errShort
	}
	if b[0] != version4 {
		return request{}, 0, malformed("not SOCKS 4")
	}
	if len(b) < 8 {
		return request{}, 0, errShort
	}
	r := request{version: version4, command: b[1], port: binary.BigEndian.Uint16(b[2:4])}
	ip := netip.AddrFrom4([4]byte(b[4:8]))
	user, n, err := cstring(b[8:], maxUserID, "user id")
	if err != nil {
		return request{}, 0, err
	}
	r.user = user
	n += 8
	if v := ip.As4(); v[0] == 0 && v[1] == 0 && v[2] == 0 && v[3] != 0 {
		name, m, err := cstring(b[n:], maxName, "host name")
		if err != nil {
			return request{}, 0, err
		}
		if name == "" {
			return request{}, 0, malformed("empty host name")
		}
		r.name = name
		n += m
	} else {
		r.addr = ip
	}
	return r, n, nil
}

// cstring reads a NUL-terminated string of at most max bytes; n counts
// the NUL.
func cstring(b []byte, max int, what string) (s string, n int, err error) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), i + 1, nil
		}
		if i >= max {
			return "", 0, malformed(what + " too long")
		}
	}
	if len(b) > max {
		return "", 0, malformed(what + " too long")
	}
	return "", 0, errShort
}

// parseGreeting parses a SOCKS 5 method selection message:
//
//	VER=5 NMETHODS METHODS(NMETHODS)
func parseGreeting(b []byte) (methods []byte, n int, err error) {
	if len(b) < 1 {
		return nil, 0, errShort
	}
	if b[0] != version5 {
		return nil, 0, malformed("not SOCKS 5")
	}
	if len(b) < 2 {
		return nil, 0, errShort
	}
	nm := int(b[1])
	if nm == 0 {
		return nil, 0, malformed("no methods offered")
	}
	if len(b) < 2+nm {
		return nil, 0, errShort
	}
	return b[2 : 2+nm], 2 + nm, nil
}

// parseAuth parses RFC 1929's username/password request:
//
//	VER=1 ULEN UNAME(ULEN) PLEN PASSWD(PLEN)
func parseAuth(b []byte) (user, pass string, n int, err error) {
	if len(b) < 1 {
		return "", "", 0, errShort
	}
	if b[0] != authVersion {
		return "", "", 0, malformed("not RFC 1929 username/password")
	}
	if len(b) < 2 {
		return "", "", 0, errShort
	}
	ul := int(b[1])
	if len(b) < 2+ul+1 {
		return "", "", 0, errShort
	}
	pl := int(b[2+ul])
	if len(b) < 3+ul+pl {
		return "", "", 0, errShort
	}
	if ul == 0 {
		return "", "", 0, malformed("empty user name")
	}
	return string(b[2 : 2+ul]), string(b[3+ul : 3+ul+pl]), 3 + ul + pl, nil
}

// parseV5Request parses a SOCKS 5 request:
//
//	VER=5 CMD RSV ATYP DST.ADDR DST.PORT(2)
//
// An unknown address type is a *replyError (8): the rest cannot be
// parsed. An unknown command is returned as parsed; the caller answers 7.
func parseV5Request(b []byte) (request, int, error) {
	if len(b) < 1 {
		return request{}, 0, errShort
	}
	if b[0] != version5 {
		return request{}, 0, malformed("request is not SOCKS 5")
	}
	if len(b) < 4 {
		return request{}, 0, errShort
	}
	r := request{version: version5, command: b[1]}
	var n int
	switch b[3] {
	case atypIPv4:
		n = 4 + 4 + 2
		if len(b) < n {
			return request{}, 0, errShort
		}
		r.addr = netip.AddrFrom4([4]byte(b[4:8]))
	case atypIPv6:
		n = 4 + 16 + 2
		if len(b) < n {
			return request{}, 0, errShort
		}
		r.addr = netip.AddrFrom16([16]byte(b[4:20]))
	case atypDomain:
		if len(b) < 5 {
			return request{}, 0, errShort
		}
		l := int(b[4])
		if l == 0 {
			return request{}, 0, malformed("empty host name")
		}
		n = 5 + l + 2
		if len(b) < n {
			return request{}, 0, errShort
		}
		r.name = string(b[5 : 5+l])
	default:
		return request{}, 0, &replyError{rep: repAddrTypeUnsupported, msg: "unsupported address type"}
	}
	r.port = binary.BigEndian.Uint16(b[n-2 : n])
	return r, n, nil
}

// reply4 is a SOCKS 4 reply: VN=0 CD DSTPORT DSTIP. On success it
// carries the address we connected from when it is IPv4.
func reply4(cd byte, bound netip.AddrPort) []byte {
	b := make([]byte, 8)
	b[1] = cd
	if a := bound.Addr().Unmap(); a.Is4() {
		binary.BigEndian.PutUint16(b[2:4], bound.Port())
		v := a.As4()
		copy(b[4:], v[:])
	}
	return b
}

// reply5 is a SOCKS 5 reply: VER=5 REP RSV=0 ATYP BND.ADDR BND.PORT; an
// invalid bound address (a refusal) is sent as 0.0.0.0:0.
func reply5(rep byte, bound netip.AddrPort) []byte {
	a := bound.Addr().Unmap()
	var b []byte
	switch {
	case a.Is4():
		v := a.As4()
		b = append([]byte{version5, rep, 0, atypIPv4}, v[:]...)
	case a.Is6():
		v := a.As16()
		b = append([]byte{version5, rep, 0, atypIPv6}, v[:]...)
	default:
		b = []byte{version5, rep, 0, atypIPv4, 0, 0, 0, 0}
	}
	return binary.BigEndian.AppendUint16(b, bound.Port())
}
