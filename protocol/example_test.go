package protocol_test

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/twistd-go/twistd/protocol"
)

// A head of lines announces a body of N bytes; the receiver reads the
// body raw, then goes back to lines for what follows it, however the
// stream is chunked.
func ExampleLineReceiver_SetRawMode() {
	var r protocol.LineReceiver
	remaining := 0
	var body func([]byte) error
	body = func(data []byte) error {
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
