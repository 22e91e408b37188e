package wire

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/twistd-go/twistd/protocol"
)

func TestChargenCycle(t *testing.T) {
	if len(chargenCycle()) != 95*74 {
		t.Fatalf("cycle is %d bytes, want 95 lines of 74", len(chargenCycle()))
	}
	lines := bytes.Split(bytes.TrimSuffix(chargenCycle(), []byte("\r\n")), []byte("\r\n"))
	if len(lines) != 95 {
		t.Fatalf("%d lines", len(lines))
	}
	// RFC 864's sample: the first line starts with the space character.
	if string(lines[0][:10]) != ` !"#$%&'()` || string(lines[1][:10]) != `!"#$%&'()*` {
		t.Fatalf("first lines: %q / %q", lines[0][:10], lines[1][:10])
	}
	for i, l := range lines {
		if len(l) != lineLen {
			t.Fatalf("line %d is %d characters", i, len(l))
		}
		for j, c := range l {
			if c != printable[(i+j)%95] {
				t.Fatalf("line %d char %d = %q", i, j, c)
			}
		}
	}
}

func TestTimeValue(t *testing.T) {
	// 1970-01-01 is 2208988800 seconds after 1900-01-01 (RFC 868).
	if got := binary.BigEndian.Uint32(timeNow(time.Unix(0, 0))); got != 2208988800 {
		t.Fatalf("time at the Unix epoch = %d", got)
	}
	// RFC 868's own example: 2,629,584,000 is 1983-05-01 00:00 GMT.
	if got := binary.BigEndian.Uint32(timeNow(time.Date(1983, 5, 1, 0, 0, 0, 0, time.UTC))); got != 2629584000 {
		t.Fatalf("time on 1983-05-01 = %d", got)
	}
}

type recorder struct{ out [][]byte }

func (r *recorder) WriteTo(p []byte, _ net.Addr) (int, error) {
	r.out = append(r.out, append([]byte(nil), p...))
	return len(p), nil
}

func TestUDPReplies(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC) }
	for _, tt := range []struct {
		proto string
		check func([]byte) bool
	}{
		{"echo", func(b []byte) bool { return string(b) == "ping" }},
		{"daytime", func(b []byte) bool { return string(b) == "Sun Nov 22 08:00:00 2026\r\n" }},
		{"time", func(b []byte) bool { return len(b) == 4 }},
		{"chargen", func(b []byte) bool { return len(b) <= 512 && bytes.HasPrefix(chargenCycle(), b) }},
	} {
		r := &recorder{}
		var d protocol.DatagramProtocol = &datagram{proto: tt.proto, now: now}
		d.DatagramReceived([]byte("ping"), nil, r)
		if len(r.out) != 1 || !tt.check(r.out[0]) {
			t.Errorf("%s: replies %q", tt.proto, r.out)
		}
	}
	r := &recorder{}
	(&datagram{proto: "discard"}).DatagramReceived([]byte("x"), nil, r)
	if len(r.out) != 0 {
		t.Error("discard replied")
	}
}
