package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// collect feeds chunks to f, recording each message, and stops at the
// first error.
func collect(f Framer, chunks ...string) ([]string, error) {
	var got []string
	for _, c := range chunks {
		if err := f.Feed([]byte(c), func(m []byte) error {
			got = append(got, string(m))
			return nil
		}); err != nil {
			return got, err
		}
	}
	return got, nil
}

func TestLineReceiverRawMode(t *testing.T) {
	// A head of lines, "body N" switching to raw for N bytes, then lines
	// again: the shape of an HTTP request with a body.
	type event struct{ kind, data string }
	run := func(chunks []string) ([]event, error) {
		var r LineReceiver
		var got []event
		var line func([]byte) error
		want := 0
		raw := func(b []byte) error {
			n := min(want, len(b))
			got = append(got, event{"raw", string(b[:n])})
			want -= n
			if want == 0 {
				r.SetLineMode(b[n:])
			}
			return nil
		}
		line = func(l []byte) error {
			got = append(got, event{"line", string(l)})
			if n, ok := strings.CutPrefix(string(l), "body "); ok {
				if fmt.Sscan(n, &want); want > 0 {
					r.SetRawMode(raw)
				}
			}
			return nil
		}
		for _, c := range chunks {
			if err := r.Feed([]byte(c), line); err != nil {
				return got, err
			}
		}
		return got, nil
	}
	// Raw events may be split differently by chunking: join them.
	join := func(evs []event) string {
		var b strings.Builder
		last := ""
		for _, e := range evs {
			if e.kind != last || e.kind == "line" {
				b.WriteString("|" + e.kind + ":")
			}
			b.WriteString(e.data)
			last = e.kind
		}
		return b.String()
	}
	stream := "a\r\nbody 5\r\nx\r\ny\r\nb\r\nbody 0\r\nbody 3\r\nzzzc\r\n"
	want := "|line:a|line:body 5|raw:x\r\ny\r|line:\nb|line:body 0|line:body 3|raw:zzz|line:c"
	for size := 1; size <= len(stream); size++ {
		var chunks []string
		for i := 0; i < len(stream); i += size {
			chunks = append(chunks, stream[i:min(i+size, len(stream))])
		}
		got, err := run(chunks)
		if err != nil {
			t.Fatalf("chunks of %d: %v", size, err)
		}
		if join(got) != want {
			t.Fatalf("chunks of %d:\n got %q\nwant %q", size, join(got), want)
		}
	}
}

func TestLineReceiverRawModeBetweenFeeds(t *testing.T) {
	var r LineReceiver
	var lines, raws []string
	line := func(l []byte) error { lines = append(lines, string(l)); return nil }
	if err := r.Feed([]byte("one\r\npart"), line); err != nil {
		t.Fatal(err)
	}
	// Switched outside Feed: the buffered partial line goes raw first.
	r.SetRawMode(func(b []byte) error { raws = append(raws, string(b)); return nil })
	if !r.RawMode() {
		t.Fatal("RawMode() = false after SetRawMode")
	}
	if err := r.Feed([]byte("ial"), line); err != nil {
		t.Fatal(err)
	}
	r.SetLineMode([]byte("two\r\nthr"))
	if err := r.Feed(nil, line); err != nil {
		t.Fatal(err)
	}
	if err := r.Feed([]byte("ee\r\n"), line); err != nil {
		t.Fatal(err)
	}
	if strings.Join(lines, "|") != "one|two|three" || strings.Join(raws, "|") != "partial" {
		t.Fatalf("lines %q raws %q", lines, raws)
	}
	// A raw callback's error stops Feed.
	stop := errors.New("stop")
	r.SetRawMode(func([]byte) error { return stop })
	if err := r.Feed([]byte("x"), line); !errors.Is(err, stop) {
		t.Fatalf("err = %v, want stop", err)
	}
}

func TestNetstringReceiver(t *testing.T) {
	tests := []struct {
		name    string
		max     int
		chunks  []string
		want    []string
		wantErr error
	}{
		{name: "one", chunks: []string{"5:hello,"}, want: []string{"hello"}},
		{name: "empty", chunks: []string{"0:,"}, want: []string{""}},
		{name: "several split", chunks: []string{"3:a", "bc,1", ":", "x,", "2:,,", ","}, want: []string{"abc", "x", ",,"}},
		{name: "exactly max", max: 3, chunks: []string{"3:abc,"}, want: []string{"abc"}},
		{name: "over max", max: 3, chunks: []string{"4:"}, wantErr: ErrStringTooLong},
		{name: "over max before the colon", max: 99, chunks: []string{"100"}, wantErr: ErrStringTooLong},
		{name: "huge length", chunks: []string{"99999999999999999999999:"}, wantErr: ErrStringTooLong},
		{name: "no comma", chunks: []string{"3:abcd"}, want: nil, wantErr: ErrBadNetstring},
		{name: "leading zero", chunks: []string{"03:abc,"}, wantErr: ErrBadNetstring},
		{name: "no length", chunks: []string{":abc,"}, wantErr: ErrBadNetstring},
		{name: "not a number", chunks: []string{"3x:abc,"}, wantErr: ErrBadNetstring},
		{name: "negative", chunks: []string{"-3:abc,"}, wantErr: ErrBadNetstring},
		{name: "good then bad", chunks: []string{"1:a,", "x"}, want: []string{"a"}, wantErr: ErrBadNetstring},
		{name: "incomplete is no error", chunks: []string{"10:abc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := collect(&NetstringReceiver{MaxLength: tt.max}, tt.chunks...)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Fatalf("strings = %q, want %q", got, tt.want)
			}
		})
	}
	if b := AppendNetstring([]byte("x"), []byte("hello")); string(b) != "x5:hello," {
		t.Errorf("AppendNetstring = %q", b)
	}
}

func TestIntReceivers(t *testing.T) {
	tests := []struct {
		name    string
		f       func() Framer
		chunks  []string
		want    []string
		wantErr error
	}{
		{name: "int8", f: func() Framer { return &Int8Receiver{} }, chunks: []string{"\x05hel", "lo\x00\x01", "x"}, want: []string{"hello", "", "x"}},
		{name: "int8 max", f: func() Framer { return &Int8Receiver{MaxLength: 4} }, chunks: []string{"\x04abcd\x05"}, want: []string{"abcd"}, wantErr: ErrStringTooLong},
		{name: "int16", f: func() Framer { return &Int16Receiver{} }, chunks: []string{"\x00", "\x03abc\x00\x00"}, want: []string{"abc", ""}},
		{name: "int16 max", f: func() Framer { return &Int16Receiver{MaxLength: 255} }, chunks: []string{"\x01\x00"}, wantErr: ErrStringTooLong},
		{name: "int32", f: func() Framer { return &Int32Receiver{} }, chunks: []string{"\x00\x00\x00\x02hi\x00\x00", "\x00\x01!"}, want: []string{"hi", "!"}},
		{name: "int32 default max", f: func() Framer { return &Int32Receiver{} }, chunks: []string{"\x00\x01\x86\xa0"}, wantErr: ErrStringTooLong},
		{name: "int32 huge", f: func() Framer { return &Int32Receiver{MaxLength: 1 << 30} }, chunks: []string{"\xff\xff\xff\xff"}, wantErr: ErrStringTooLong},
		{name: "int32 incomplete", f: func() Framer { return &Int32Receiver{} }, chunks: []string{"\x00\x00\x00\x09abc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := collect(tt.f(), tt.chunks...)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Fatalf("strings = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestIntAppend(t *testing.T) {
	if _, err := (&Int8Receiver{}).Append(nil, make([]byte, 256)); !errors.Is(err, ErrStringTooLong) {
		t.Errorf("int8 256 bytes: err = %v", err)
	}
	if _, err := (&Int16Receiver{}).Append(nil, make([]byte, 1<<16)); !errors.Is(err, ErrStringTooLong) {
		t.Errorf("int16 65536 bytes: err = %v", err)
	}
	for _, f := range []Framer{&Int8Receiver{}, &Int16Receiver{}, &Int32Receiver{}, &NetstringReceiver{}, &LineReceiver{}} {
		b, err := f.Append([]byte("pre"), []byte("msg"))
		if err != nil || !bytes.HasPrefix(b, []byte("pre")) {
			t.Fatalf("%T: Append = %q, %v", f, b, err)
		}
		got, err := collect(f, string(b[3:]))
		if err != nil || len(got) != 1 || got[0] != "msg" {
			t.Errorf("%T: round trip gave %q, %v", f, got, err)
		}
	}
}

func TestStringProtocol(t *testing.T) {
	ft := &fakeTransport{}
	var got []string
	p := &StringProtocol{Framer: &Int16Receiver{MaxLength: 8}}
	p.OnString = func(m []byte) error {
		got = append(got, string(m))
		return p.SendString(bytes.ToUpper(m))
	}
	p.ConnectionMade(ft)
	p.DataReceived([]byte("\x00\x02hi\x00"))
	p.DataReceived([]byte("\x03you"))
	if strings.Join(got, "|") != "hi|you" || ft.written.String() != "\x00\x02HI\x00\x03YOU" {
		t.Fatalf("got %q, wrote %q", got, ft.written.String())
	}
	if ft.lost {
		t.Fatal("connection lost early")
	}
	p.DataReceived([]byte("\x00\x09"))
	if !ft.lost {
		t.Fatal("a string over MaxLength did not close the connection")
	}
	p.DataReceived([]byte("\x00\x01x")) // ignored after the error
	if len(got) != 2 {
		t.Fatalf("data after the error was parsed: %q", got)
	}
	if err := p.SendString(make([]byte, 1<<16)); !errors.Is(err, ErrStringTooLong) {
		t.Fatalf("SendString of 64 KiB over int16: %v", err)
	}
}

func TestLineProtocol(t *testing.T) {
	ft := &fakeTransport{}
	var errs []error
	p := &LineProtocol{LineReceiver: LineReceiver{Delimiter: []byte("\n"), MaxLength: 5}}
	p.OnLine = func(l []byte) error {
		p.SendLine(append([]byte("> "), l...))
		return nil
	}
	p.OnError = func(err error) { errs = append(errs, err) }
	p.ConnectionMade(ft)
	p.DataReceived([]byte("a\nbc\ntoolong"))
	if ft.written.String() != "> a\n> bc\n" || len(errs) != 1 || !errors.Is(errs[0], ErrLineTooLong) {
		t.Fatalf("wrote %q, errors %v", ft.written.String(), errs)
	}
	p.DataReceived([]byte("\n"))
	if len(errs) != 1 || ft.lost {
		t.Fatalf("errors %v, lost %v: OnError replaces closing, once", errs, ft.lost)
	}
}

// fuzzChunked feeds stream to a new framer whole and in chunks of size
// chunk, and checks both give the same messages and the same verdict.
func fuzzChunked(t *testing.T, newFramer func() Framer, stream []byte, chunk uint8, check func([]byte)) {
	t.Helper()
	if chunk == 0 {
		chunk = 1
	}
	var want [][]byte
	wantErr := newFramer().Feed(stream, func(m []byte) error {
		check(m)
		want = append(want, bytes.Clone(m))
		return nil
	})
	split := newFramer()
	var got [][]byte
	var gotErr error
	for i := 0; i < len(stream) && gotErr == nil; i += int(chunk) {
		gotErr = split.Feed(stream[i:min(i+int(chunk), len(stream))], func(m []byte) error {
			check(m)
			got = append(got, bytes.Clone(m))
			return nil
		})
	}
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("whole err %v, chunked err %v", wantErr, gotErr)
	}
	if wantErr == nil && len(got) != len(want) {
		t.Fatalf("chunked gave %d messages, whole %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("message %d: chunked %q, whole %q", i, got[i], want[i])
		}
	}
	// What was framed is parsed back whole.
	if wantErr == nil {
		var framed []byte
		for _, m := range want {
			var err error
			if framed, err = newFramer().Append(framed, m); err != nil {
				t.Fatalf("Append(%q): %v", m, err)
			}
		}
		var again [][]byte
		if err := newFramer().Feed(framed, func(m []byte) error { again = append(again, bytes.Clone(m)); return nil }); err != nil {
			t.Fatalf("re-parsing %q: %v", framed, err)
		}
		if len(again) != len(want) {
			t.Fatalf("re-parsing gave %d messages, want %d", len(again), len(want))
		}
	}
}

// FuzzNetstringReceiver checks chunking invariance, the maximum and the
// round trip of netstrings.
func FuzzNetstringReceiver(f *testing.F) {
	f.Add([]byte("5:hello,0:,3:a,b,"), uint8(2), uint8(10))
	f.Add([]byte("12:hello world!,"), uint8(5), uint8(11))
	f.Add([]byte("01:x,"), uint8(1), uint8(3))
	f.Fuzz(func(t *testing.T, stream []byte, chunk, max uint8) {
		m := int(max%64) + 1
		fuzzChunked(t, func() Framer { return &NetstringReceiver{MaxLength: m} }, stream, chunk, func(s []byte) {
			if len(s) > m {
				t.Fatalf("netstring of %d bytes exceeds max %d", len(s), m)
			}
		})
	})
}

func fuzzInt(f *testing.F, newFramer func(max int) Framer) {
	f.Add([]byte("\x00\x00\x00\x05hello\x00\x00\x00\x00"), uint8(3), uint8(10))
	f.Add([]byte("\x03abc\x00\x01x"), uint8(1), uint8(3))
	f.Add([]byte("\xff\xff\xff\xff"), uint8(2), uint8(0))
	f.Fuzz(func(t *testing.T, stream []byte, chunk, max uint8) {
		m := int(max%64) + 1
		fuzzChunked(t, func() Framer { return newFramer(m) }, stream, chunk, func(s []byte) {
			if len(s) > m {
				t.Fatalf("string of %d bytes exceeds max %d", len(s), m)
			}
		})
	})
}

// FuzzInt8Receiver checks chunking invariance, the maximum and the
// round trip of 8-bit length-prefixed strings.
func FuzzInt8Receiver(f *testing.F) {
	fuzzInt(f, func(max int) Framer { return &Int8Receiver{MaxLength: max} })
}

// FuzzInt16Receiver is FuzzInt8Receiver for 16-bit prefixes.
func FuzzInt16Receiver(f *testing.F) {
	fuzzInt(f, func(max int) Framer { return &Int16Receiver{MaxLength: max} })
}

// FuzzInt32Receiver is FuzzInt8Receiver for 32-bit prefixes.
func FuzzInt32Receiver(f *testing.F) {
	fuzzInt(f, func(max int) Framer { return &Int32Receiver{MaxLength: max} })
}

// FuzzLineReceiverRawMode drives a protocol that switches to raw mode for
// the number of bytes a line "#N" announces, and checks that any chunking
// gives the same lines and the same raw bytes as feeding the stream whole.
func FuzzLineReceiverRawMode(f *testing.F) {
	f.Add([]byte("a\r\n#3\r\nxyzb\r\n#0\r\n#2\r\n\r\n\r\n"), uint8(2), uint8(16))
	f.Add([]byte("#9\r\nshort"), uint8(1), uint8(4))
	f.Fuzz(func(t *testing.T, stream []byte, chunk, max uint8) {
		if chunk == 0 {
			chunk = 1
		}
		m := int(max%64) + 2
		run := func(size int) (string, error) {
			r := &LineReceiver{MaxLength: m}
			var out strings.Builder
			want := 0
			raw := func(b []byte) error {
				if len(b) == 0 {
					t.Fatal("raw callback given no data")
				}
				n := min(want, len(b))
				out.Write(b[:n]) // raw bytes, concatenated: chunking may split them
				want -= n
				if want == 0 {
					out.WriteString("]")
					r.SetLineMode(b[n:])
				}
				return nil
			}
			line := func(l []byte) error {
				if len(l) > m {
					t.Fatalf("line of %d bytes exceeds max %d", len(l), m)
				}
				fmt.Fprintf(&out, "<%q>", l)
				if len(l) >= 2 && l[0] == '#' && l[1] >= '1' && l[1] <= '9' {
					want = int(l[1] - '0')
					out.WriteString("[")
					r.SetRawMode(raw)
				}
				return nil
			}
			for i := 0; i < len(stream); i += size {
				if err := r.Feed(stream[i:min(i+size, len(stream))], line); err != nil {
					return out.String(), err
				}
			}
			return out.String(), nil
		}
		whole, wholeErr := run(len(stream) + 1)
		split, splitErr := run(int(chunk))
		if (wholeErr == nil) != (splitErr == nil) {
			t.Fatalf("whole err %v, chunked err %v", wholeErr, splitErr)
		}
		if wholeErr == nil && whole != split {
			t.Fatalf("whole %q\nchunked %q", whole, split)
		}
	})
}

// The framers sit on every message: a chunk of whole messages costs no
// allocation, and neither does framing one into a reused buffer.
func TestFramersDoNotAllocate(t *testing.T) {
	for _, f := range []Framer{&LineReceiver{}, &NetstringReceiver{}, &Int8Receiver{}, &Int16Receiver{}, &Int32Receiver{}} {
		var chunk []byte
		for range 4 {
			chunk, _ = f.Append(chunk, []byte("a message of some length"))
		}
		n := 0
		count := func([]byte) error { n++; return nil }
		if a := testing.AllocsPerRun(100, func() { _ = f.Feed(chunk, count) }); a != 0 {
			t.Errorf("%T: %.1f allocations per Feed", f, a)
		}
		if n != 101*4 {
			t.Errorf("%T: %d messages, want %d", f, n, 101*4)
		}
		buf, msg := make([]byte, 0, 64), []byte("msg")
		if a := testing.AllocsPerRun(100, func() { buf, _ = f.Append(buf[:0], msg) }); a != 0 {
			t.Errorf("%T: %.1f allocations per Append", f, a)
		}
	}
}

// Raw mode through LineProtocol: the embedded receiver's switch works
// from OnLine, and the raw callback's error closes the connection.
func TestLineProtocolRawMode(t *testing.T) {
	ft := &fakeTransport{}
	p := &LineProtocol{}
	var raw []string
	p.OnLine = func(l []byte) error {
		if string(l) == "raw" {
			p.SetRawMode(func(b []byte) error {
				raw = append(raw, string(b))
				if bytes.Contains(b, []byte("!")) {
					return errors.New("bang")
				}
				return nil
			})
		}
		p.SendLine(l)
		return nil
	}
	p.ConnectionMade(ft)
	p.DataReceived([]byte("a\r\nraw\r\nxy"))
	p.DataReceived([]byte("z\r\n"))
	if ft.written.String() != "a\r\nraw\r\n" || strings.Join(raw, "|") != "xy|z\r\n" || ft.lost {
		t.Fatalf("wrote %q, raw %q, lost %v", ft.written.String(), raw, ft.lost)
	}
	p.DataReceived([]byte("!"))
	if !ft.lost {
		t.Fatal("the raw callback's error did not close the connection")
	}
}
