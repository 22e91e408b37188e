package proxyproto

import (
	"encoding/binary"
	"errors"
	"net"
	"testing"
)

func v2(cmd, fam byte, addrs []byte, tlv int) []byte {
	b := append([]byte(nil), proxyV2Signature...)
	b = append(b, 0x20|cmd, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(addrs)+tlv))
	b = append(b, addrs...)
	return append(b, make([]byte, tlv)...)
}

func TestParseProxyHeader(t *testing.T) {
	ipv4 := []byte{192, 0, 2, 7, 10, 0, 0, 1, 0x1f, 0x90, 0x00, 0x50}
	ipv6 := append(append(net.ParseIP("2001:db8::7").To16(), net.ParseIP("2001:db8::1").To16()...), 0x04, 0xd2, 0x01, 0xbb)
	tests := []struct {
		name     string
		in       []byte
		wantAddr string
		wantLen  int
		wantErr  error // ErrNeedMore, or any error (non-nil) when set to errBad
	}{
		{name: "v1 tcp4", in: []byte("PROXY TCP4 192.0.2.7 10.0.0.1 51234 80\r\nGET"), wantAddr: "192.0.2.7:51234", wantLen: 40},
		{name: "v1 tcp6", in: []byte("PROXY TCP6 2001:db8::7 2001:db8::1 1234 443\r\n"), wantAddr: "[2001:db8::7]:1234", wantLen: 45},
		{name: "v1 unknown", in: []byte("PROXY UNKNOWN\r\nx"), wantLen: 15},
		{name: "v1 partial", in: []byte("PROXY TCP4 192.0"), wantErr: ErrNeedMore},
		{name: "v1 partial prefix", in: []byte("PRO"), wantErr: ErrNeedMore},
		{name: "v1 family mismatch", in: []byte("PROXY TCP4 2001:db8::7 10.0.0.1 1 2\r\n"), wantErr: errBad},
		{name: "v1 bad port", in: []byte("PROXY TCP4 192.0.2.7 10.0.0.1 99999 80\r\n"), wantErr: errBad},
		{name: "v1 too long", in: append([]byte("PROXY TCP4 "), make([]byte, 200)...), wantErr: errBad},
		{name: "no header", in: []byte("GET / HTTP/1.1\r\n"), wantErr: errBad},
		{name: "v2 ipv4", in: append(v2(1, 0x11, ipv4, 0), 'x'), wantAddr: "192.0.2.7:8080", wantLen: 28},
		{name: "v2 ipv4 with TLVs", in: v2(1, 0x11, ipv4, 20), wantAddr: "192.0.2.7:8080", wantLen: 48},
		{name: "v2 ipv6", in: v2(1, 0x21, ipv6, 0), wantAddr: "[2001:db8::7]:1234", wantLen: 52},
		{name: "v2 local", in: v2(0, 0x00, nil, 0), wantLen: 16},
		{name: "v2 partial", in: v2(1, 0x11, ipv4, 0)[:20], wantErr: ErrNeedMore},
		{name: "v2 partial signature", in: proxyV2Signature[:5], wantErr: ErrNeedMore},
		{name: "v2 bad command", in: v2(7, 0x11, ipv4, 0), wantErr: errBad},
		{name: "v2 short ipv4", in: v2(1, 0x11, ipv4[:6], 0), wantErr: errBad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, n, err := Parse(tt.in)
			switch {
			case tt.wantErr == ErrNeedMore:
				if !errors.Is(err, ErrNeedMore) {
					t.Fatalf("err = %v, want ErrNeedMore", err)
				}
				return
			case tt.wantErr != nil:
				if err == nil || errors.Is(err, ErrNeedMore) {
					t.Fatalf("err = %v, want a rejection", err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if n != tt.wantLen {
				t.Fatalf("length %d, want %d", n, tt.wantLen)
			}
			got := ""
			if addr != nil {
				got = addr.String()
			}
			if got != tt.wantAddr {
				t.Fatalf("addr %q, want %q", got, tt.wantAddr)
			}
		})
	}
}

var errBad = errors.New("any rejection")

// FuzzParseProxyHeader: never panics, never claims more bytes than given,
// and a complete header parses the same however much follows it.
func FuzzParseProxyHeader(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.0.2.7 10.0.0.1 51234 80\r\nGET"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(v2(1, 0x11, []byte{1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2}, 3))
	f.Add(v2(0, 0, nil, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		addr, n, err := Parse(b)
		if err != nil {
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("header length %d of %d bytes", n, len(b))
		}
		addr2, n2, err2 := Parse(append(append([]byte(nil), b[:n]...), "trailing"...))
		if err2 != nil || n2 != n || (addr == nil) != (addr2 == nil) || (addr != nil && addr.String() != addr2.String()) {
			t.Fatalf("header parses differently with trailing bytes: %v %d %v / %v %d %v", addr, n, err, addr2, n2, err2)
		}
	})
}
