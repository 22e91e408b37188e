package protocol_test

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/protocol/prototest"
)

// A head of lines announces a body of N bytes; the receiver reads the
// body raw, then goes back to lines for what follows it, however the
// stream is chunked.
func ExampleLineReceiver_SetRawMode() {
	var r protocol.LineReceiver
	remaining := 0
	body := func(data []byte) error {
		n := min(remaining, len(data))
		fmt.Printf("body %q\n", data[:n])
		if remaining -= n; remaining == 0 {
			r.SetLineMode(data[n:]) // what follows the body is lines again
		}
		return nil
	}
	line := func(l []byte) error {
		fmt.Printf("line %q\n", l)
		if v, ok := strings.CutPrefix(string(l), "Length: "); ok {
			remaining, _ = strconv.Atoi(v)
			r.SetRawMode(body)
		}
		return nil
	}
	for _, chunk := range []string{"PUT a\r\nLength: 7\r\nhel", "lo\r\n!QUIT\r\n"} {
		if err := r.Feed([]byte(chunk), line); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// line "PUT a"
	// line "Length: 7"
	// body "hel"
	// body "lo\r\n"
	// line "!QUIT"
}

func ExampleNetstringReceiver() {
	r := protocol.NetstringReceiver{MaxLength: 1024}
	show := func(s []byte) error { fmt.Printf("%q\n", s); return nil }
	_ = r.Feed([]byte("5:hello,0:,12:hello, w"), show)
	_ = r.Feed([]byte("orld,"), show)
	fmt.Printf("%s\n", protocol.AppendNetstring(nil, []byte("bye")))
	fmt.Println(r.Feed([]byte("3:abc;"), show))
	// Output:
	// "hello"
	// ""
	// "hello, world"
	// 3:bye,
	// malformed netstring: ';' after 3 bytes of data, want ','
}

func ExampleInt32Receiver() {
	r := protocol.Int32Receiver{MaxLength: 1 << 20}
	msg, _ := r.Append(nil, []byte("ping"))
	msg, _ = r.Append(msg, []byte("pong"))
	fmt.Printf("% x\n", msg[:8])
	// Fed a byte at a time, the strings still come out whole.
	for i := range msg {
		_ = r.Feed(msg[i:i+1], func(s []byte) error { fmt.Printf("%s\n", s); return nil })
	}
	fmt.Println(r.Feed([]byte{0x7f, 0, 0, 0}, nil))
	// Output:
	// 00 00 00 04 70 69 6e 67
	// ping
	// pong
	// string too long: prefix announces 2130706432 bytes, limit 1048576
}

// heartbeat writes "ping" every 30s and closes a connection that has not
// answered for a minute; it needs no lock, since its timers run
// serialised with DataReceived.
type heartbeat struct {
	protocol.LineProtocol
	pings   *protocol.LoopingCall
	timeout protocol.Timer
}

func newHeartbeat() *heartbeat {
	h := &heartbeat{}
	h.OnLine = func(line []byte) error {
		fmt.Printf("got %q\n", line)
		h.timeout.Reset(time.Minute) // the peer is alive
		return nil
	}
	return h
}

func (h *heartbeat) ConnectionMade(t protocol.Transport) {
	h.LineProtocol.ConnectionMade(t)
	h.pings = protocol.NewLoopingCall(t, func() { h.SendLine([]byte("ping")) })
	_ = h.pings.Start(30*time.Second, false)
	h.timeout = t.CallLater(time.Minute, func() {
		fmt.Println("no answer; closing")
		t.LoseConnection()
	})
}

// Timers and a LoopingCall on one connection, driven here by prototest's
// simulated clock; under the reactor they run the same way, on the
// connection's own loop, never during another of its callbacks.
func ExampleLoopingCall() {
	tr := prototest.NewTransport()
	h := newHeartbeat()
	h.ConnectionMade(tr)
	tr.Advance(45 * time.Second)
	h.DataReceived([]byte("pong\r\n"))
	tr.Advance(50 * time.Second)
	fmt.Printf("wrote %q\n", tr.Value())
	tr.Advance(time.Minute)
	lost, _ := tr.Lost()
	fmt.Println("lost:", lost)
	tr.Disconnect(h, nil) // every timer stops with the connection
	fmt.Println("timers left:", tr.Pending())
	// Output:
	// got "pong"
	// wrote "ping\r\nping\r\nping\r\n"
	// no answer; closing
	// lost: true
	// timers left: 0
}

// A protocol of 32-bit length-prefixed messages, answering each with its
// length.
func ExampleStringProtocol() {
	p := &protocol.StringProtocol{Framer: &protocol.Int32Receiver{MaxLength: 1 << 20}}
	p.OnString = func(msg []byte) error {
		return p.SendString([]byte(strconv.Itoa(len(msg))))
	}
	tr := prototest.NewTransport()
	p.ConnectionMade(tr)
	p.DataReceived([]byte("\x00\x00\x00\x05hello\x00\x00"))
	p.DataReceived([]byte("\x00\x00"))
	fmt.Printf("%q\n", tr.Value())
	// Output:
	// "\x00\x00\x00\x015\x00\x00\x00\x010"
}
