package httpconn

import (
	"bytes"
	"testing"
)

func TestFramer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		refused bool   // a head was refused
		out     string // what net/http gets; "" means in itself
	}{
		{name: "plain", in: "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
		{name: "bare LF", in: "GET / HTTP/1.1\nHost: x\n\n"},
		{name: "length body", in: "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n"},
		{name: "chunked", in: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n0\r\nX: y\r\n\r\nGET / HTTP/1.1\r\n\r\n"},
		{name: "CL and TE", in: "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", refused: true,
			out: string(refusedHead)},
		{name: "folded", in: "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", refused: true, out: string(refusedHead)},
		{name: "TE on 1.0", in: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", refused: true, out: string(refusedHead)},
		{name: "smuggled in a body", in: "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloPOST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
			refused: true, out: "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello" + string(refusedHead)},
		{name: "CL in a body is a body", in: "POST / HTTP/1.1\r\nContent-Length: 60\r\n\r\nGET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: x\r\n\r\n"},
		{name: "unknown coding passes", in: "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nanything"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.out
			if want == "" {
				want = tc.in
			}
			// Whole, and one byte at a time: the same.
			for _, step := range []int{len(tc.in), 1} {
				f := framer{limit: 1 << 16}
				var got []byte
				refused := false
				for i := 0; i < len(tc.in); i += step {
					var r bool
					got, r = f.feed(got, []byte(tc.in[i:min(i+step, len(tc.in))]))
					refused = refused || r
				}
				if refused != tc.refused || !bytes.Equal(got, []byte(want)) {
					t.Fatalf("step %d: refused %v, got %q; want %v, %q", step, refused, got, tc.refused, want)
				}
			}
		})
	}
}

func TestFramerHoldsAnIncompleteHead(t *testing.T) {
	f := framer{limit: 64}
	got, _ := f.feed(nil, []byte("GET / HTTP/1.1\r\nHost"))
	if len(got) != 0 || f.idle() {
		t.Fatalf("an incomplete head went on: %q", got)
	}
	got, _ = f.feed(got, bytes.Repeat([]byte("x"), 64))
	if len(got) != 20+64 || f.state != frameOff {
		t.Fatalf("a head over the limit is handed on for net/http's 431: %q, state %d", got, f.state)
	}
}
