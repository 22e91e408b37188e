package test

import (
	be "encoding/binary"
	"io"
	"testing"
	"time"
)

// Two connections share the store over 32-bit length-prefixed strings.
func TestKVOneLiner(t *testing.T) {
	t.Parallel()
	s := start(t, t.TempDir(), "kv", "--port", "tcp:0:interface=127.0.0.1")
	addr := s.addrs()[0]
	ask := func(c *chatClient, req, want string) {
		t.Helper()
		b := be.BigEndian.AppendUint32(nil, uint32(len(req)))
		c.c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.c.Write(append(b, req...)); err != nil {
			t.Fatal(err)
		}
		var n [4]byte
		if _, err := io.ReadFull(c.br, n[:]); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, be.BigEndian.Uint32(n[:]))
		if _, err := io.ReadFull(c.br, got); err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("%q: got %q, want %q", req, got, want)
		}
	}
	a, b := dialChat(t, addr), dialChat(t, addr)
	ask(a, "SET k v1", "OK")
	ask(b, "GET k", "VALUE v1")
	ask(b, "DEL k", "OK")
	ask(a, "GET k", "NOTFOUND")
}
