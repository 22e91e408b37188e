package dns

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// TestBatchReadsOnAUDPSocket: a borrowed UDP handle gives its raw socket,
// so the readers use recvmmsg and sendmmsg (what the other UDP tests then
// exercise).
func TestBatchReadsOnAUDPSocket(t *testing.T) {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, _, ok := newBatchSocket(&borrowed{UDPConn: pc}); !ok {
		t.Fatal("no batch reads on a UDP socket")
	}
}

func TestSockaddrPort(t *testing.T) {
	v4 := make([]byte, unix.SizeofSockaddrInet4)
	binary.NativeEndian.PutUint16(v4, unix.AF_INET)
	binary.BigEndian.PutUint16(v4[2:], 5353)
	copy(v4[4:], []byte{192, 0, 2, 7})
	v6 := make([]byte, unix.SizeofSockaddrInet6)
	binary.NativeEndian.PutUint16(v6, unix.AF_INET6)
	binary.BigEndian.PutUint16(v6[2:], 53)
	copy(v6[8:], netip.MustParseAddr("2001:db8::1").AsSlice())
	mapped := append([]byte(nil), v6...)
	copy(mapped[8:], netip.MustParseAddr("::ffff:198.51.100.9").AsSlice())
	linkLocal := append([]byte(nil), v6...)
	copy(linkLocal[8:], netip.MustParseAddr("fe80::1").AsSlice())
	binary.NativeEndian.PutUint32(linkLocal[24:], 3)
	unix6 := make([]byte, 16)
	binary.NativeEndian.PutUint16(unix6, unix.AF_UNIX)
	for _, c := range []struct {
		name string
		sa   []byte
		want string
	}{
		{"IPv4", v4, "192.0.2.7:5353"},
		{"IPv6", v6, "[2001:db8::1]:53"},
		{"IPv4-mapped IPv6 comes out as IPv4", mapped, "198.51.100.9:53"},
		{"link-local IPv6 keeps its interface", linkLocal, "[fe80::1%3]:53"},
		{"IPv4 cut short", v4[:8], "invalid AddrPort"},
		{"IPv6 cut short", v6[:20], "invalid AddrPort"},
		{"another family", unix6, "invalid AddrPort"},
		{"nothing", nil, "invalid AddrPort"},
	} {
		if got := sockaddrPort(c.sa).String(); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// FuzzSockaddrPort: whatever the kernel's address bytes, decoding them
// never panics, and what decodes is an address of the family the bytes
// name.
func FuzzSockaddrPort(f *testing.F) {
	for _, seed := range [][]byte{nil, {2, 0, 0, 53, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, make([]byte, 28), {10, 0}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, sa []byte) {
		ap := sockaddrPort(sa)
		if !ap.IsValid() {
			return
		}
		family := binary.NativeEndian.Uint16(sa)
		if family != unix.AF_INET && family != unix.AF_INET6 {
			t.Fatalf("family %d decoded as %s", family, ap)
		}
		if ap.Addr().Is4In6() {
			t.Fatalf("%s: an IPv4-mapped address must come out as IPv4", ap)
		}
	})
}
