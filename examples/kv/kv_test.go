package kv

import (
	"testing"

	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/protocol/prototest"
)

func TestKV(t *testing.T) {
	s := NewStore(Options{MaxKeys: 2, MaxMessage: 64})
	p := s.BuildProtocol(nil)
	tr := prototest.NewTransport()
	p.ConnectionMade(tr)
	var framer protocol.Int32Receiver
	ask := func(req, want string) {
		t.Helper()
		b, _ := framer.Append(nil, []byte(req))
		// Split the frame to show the framer reassembles it.
		p.DataReceived(b[:3])
		p.DataReceived(b[3:])
		wantB, _ := framer.Append(nil, []byte(want))
		if got := tr.Value(); got != string(wantB) {
			t.Fatalf("%q: got %q, want %q", req, got, wantB)
		}
		tr.Clear()
	}
	ask("GET a", "NOTFOUND")
	ask("SET a hello world", "OK")
	ask("GET a", "VALUE hello world")
	ask("SET b \x00\xff", "OK")
	ask("GET b", "VALUE \x00\xff")
	ask("SET c x", "ERR store full")
	ask("DEL a", "OK")
	ask("DEL a", "NOTFOUND")
	ask("PUT a", "ERR unknown command")

	// A frame longer than max_message closes the connection.
	p.DataReceived([]byte{0, 0, 1, 0})
	if lost, _ := tr.Lost(); !lost {
		t.Fatal("an oversized frame did not close the connection")
	}
}
