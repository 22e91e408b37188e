package protocol

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func feedAll(t *testing.T, r *LineReceiver, chunks []string) ([]string, error) {
	t.Helper()
	var got []string
	for _, c := range chunks {
		err := r.Feed([]byte(c), func(l []byte) error {
			got = append(got, string(l))
			return nil
		})
		if err != nil {
			return got, err
		}
	}
	return got, nil
}

func TestLineReceiver(t *testing.T) {
	tests := []struct {
		name    string
		delim   string
		max     int
		chunks  []string
		want    []string
		wantErr error
	}{
		{name: "one line", chunks: []string{"hello\r\n"}, want: []string{"hello"}},
		{name: "split delimiter", chunks: []string{"hel", "lo\r", "\nwor", "ld\r\n"}, want: []string{"hello", "world"}},
		{name: "several in one chunk", chunks: []string{"a\r\nb\r\n\r\nc"}, want: []string{"a", "b", ""}},
		{name: "custom delimiter", delim: "\n", chunks: []string{"x\ny\n"}, want: []string{"x", "y"}},
		{name: "exactly max", max: 3, chunks: []string{"abc\r\n"}, want: []string{"abc"}},
		{name: "exactly max split", max: 3, chunks: []string{"abc\r", "\n"}, want: []string{"abc"}},
		{name: "complete line too long", max: 3, chunks: []string{"abcd\r\n"}, wantErr: ErrLineTooLong},
		{name: "partial line too long", max: 3, chunks: []string{"ab", "cde"}, wantErr: ErrLineTooLong},
		{name: "lines before the long one", max: 3, chunks: []string{"ab\r\nabcdef"}, want: []string{"ab"}, wantErr: ErrLineTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &LineReceiver{Delimiter: []byte(tt.delim), MaxLength: tt.max}
			got, err := feedAll(t, r, tt.chunks)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Fatalf("lines = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLineReceiverCallbackError(t *testing.T) {
	stop := errors.New("stop")
	r := &LineReceiver{}
	n := 0
	err := r.Feed([]byte("a\r\nb\r\n"), func([]byte) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("err = %v after %d lines, want stop after 1", err, n)
	}
}

// FuzzLineReceiver checks that any chunking of a stream yields the same
// lines as feeding it whole, and that no line exceeds the maximum.
func FuzzLineReceiver(f *testing.F) {
	f.Add([]byte("hello\r\nworld\r\n"), uint8(3), uint8(10))
	f.Add([]byte("a\r\r\n\r\n\n\r"), uint8(1), uint8(2))
	f.Add([]byte(strings.Repeat("x", 40)+"\r\n"), uint8(7), uint8(16))
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8, max uint8) {
		if chunk == 0 {
			chunk = 1
		}
		m := int(max%64) + 1
		whole := &LineReceiver{MaxLength: m}
		var want [][]byte
		wantErr := whole.Feed(stream, func(l []byte) error {
			want = append(want, bytes.Clone(l))
			return nil
		})
		split := &LineReceiver{MaxLength: m}
		var got [][]byte
		var gotErr error
		for i := 0; i < len(stream) && gotErr == nil; i += int(chunk) {
			end := min(i+int(chunk), len(stream))
			gotErr = split.Feed(stream[i:end], func(l []byte) error {
				if len(l) > m {
					t.Fatalf("line of %d bytes exceeds max %d", len(l), m)
				}
				got = append(got, bytes.Clone(l))
				return nil
			})
		}
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("whole err %v, chunked err %v", wantErr, gotErr)
		}
		if wantErr == nil && len(got) != len(want) {
			t.Fatalf("chunked gave %d lines, whole %d", len(got), len(want))
		}
		for i := range min(len(got), len(want)) {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("line %d: chunked %q, whole %q", i, got[i], want[i])
			}
		}
	})
}
