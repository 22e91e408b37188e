// Package proxyproto reads HAProxy's PROXY protocol (v1 and v2): a load
// balancer sends one header with the client's real address before the
// client's bytes, so services see real clients in logs, policies and
// metrics.
package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ErrNeedMore means the header is not complete yet.
var ErrNeedMore = errors.New("proxy protocol: header incomplete")

// MaxHeader bounds a header (v2 with TLVs included); v1 is at most 107 bytes.
const MaxHeader = 4096

var proxyV2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")

// Parse reads a PROXY protocol header at the start of b. It
// returns the client's address (nil for LOCAL/UNKNOWN: keep the socket's
// own peer) and the header's length, ErrNeedMore when b holds only part of
// a header, or an error when b does not start with one.
func Parse(b []byte) (net.Addr, int, error) {
	if len(b) == 0 {
		return nil, 0, ErrNeedMore
	}
	n := min(len(b), len(proxyV2Signature))
	if bytes.Equal(b[:n], proxyV2Signature[:n]) {
		if len(b) < 16 {
			return nil, 0, ErrNeedMore
		}
		return parseProxyV2(b)
	}
	n = min(len(b), 6)
	if bytes.Equal(b[:n], []byte("PROXY ")[:n]) {
		return parseProxyV1(b)
	}
	return nil, 0, errors.New("proxy protocol: no PROXY header")
}

func parseProxyV1(b []byte) (net.Addr, int, error) {
	end := bytes.Index(b, []byte("\r\n"))
	if end < 0 {
		if len(b) >= 107 {
			return nil, 0, errors.New("proxy protocol v1: header longer than 107 bytes")
		}
		return nil, 0, ErrNeedMore
	}
	if end+2 > 107 {
		return nil, 0, errors.New("proxy protocol v1: header longer than 107 bytes")
	}
	f := strings.Split(string(b[:end]), " ")
	if len(f) >= 2 && f[1] == "UNKNOWN" {
		return nil, end + 2, nil
	}
	if len(f) != 6 || (f[1] != "TCP4" && f[1] != "TCP6") {
		return nil, 0, fmt.Errorf("proxy protocol v1: malformed header %q", b[:end])
	}
	ip := net.ParseIP(f[2])
	if ip == nil || net.ParseIP(f[3]) == nil || (f[1] == "TCP4") != (ip.To4() != nil) {
		return nil, 0, fmt.Errorf("proxy protocol v1: bad addresses in %q", b[:end])
	}
	port, err := strconv.ParseUint(f[4], 10, 16)
	if err != nil || (len(f[4]) > 1 && f[4][0] == '0') {
		return nil, 0, fmt.Errorf("proxy protocol v1: bad source port %q", f[4])
	}
	if _, err := strconv.ParseUint(f[5], 10, 16); err != nil {
		return nil, 0, fmt.Errorf("proxy protocol v1: bad destination port %q", f[5])
	}
	return &net.TCPAddr{IP: ip, Port: int(port)}, end + 2, nil
}

func parseProxyV2(b []byte) (net.Addr, int, error) {
	verCmd, famProto := b[12], b[13]
	length := int(binary.BigEndian.Uint16(b[14:16]))
	total := 16 + length
	if verCmd>>4 != 2 {
		return nil, 0, fmt.Errorf("proxy protocol v2: version %d", verCmd>>4)
	}
	if total > MaxHeader {
		return nil, 0, fmt.Errorf("proxy protocol v2: %d-byte header is too long", total)
	}
	if len(b) < total {
		return nil, 0, ErrNeedMore
	}
	switch verCmd & 0xf {
	case 0: // LOCAL: a health check from the balancer itself
		return nil, total, nil
	case 1: // PROXY
	default:
		return nil, 0, fmt.Errorf("proxy protocol v2: command %d", verCmd&0xf)
	}
	body := b[16:total]
	switch famProto {
	case 0x11, 0x12: // TCP or UDP over IPv4
		if len(body) < 12 {
			return nil, 0, errors.New("proxy protocol v2: short IPv4 addresses")
		}
		return &net.TCPAddr{IP: net.IP(append([]byte(nil), body[0:4]...)), Port: int(binary.BigEndian.Uint16(body[8:10]))}, total, nil
	case 0x21, 0x22: // over IPv6
		if len(body) < 36 {
			return nil, 0, errors.New("proxy protocol v2: short IPv6 addresses")
		}
		return &net.TCPAddr{IP: net.IP(append([]byte(nil), body[0:16]...)), Port: int(binary.BigEndian.Uint16(body[32:34]))}, total, nil
	}
	// AF_UNIX or UNSPEC: nothing to report; keep the socket's peer.
	return nil, total, nil
}
