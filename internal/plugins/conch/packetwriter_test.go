package conch

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// packets builds SFTP-framed packets of the given body sizes, and the
// offsets where each ends.
func packets(sizes ...int) ([]byte, []int) {
	var b []byte
	var ends []int
	for i, n := range sizes {
		b = binary.BigEndian.AppendUint32(b, uint32(n))
		for j := range n {
			b = append(b, byte(i*31+j))
		}
		ends = append(ends, len(b))
	}
	return b, ends
}

func newTestWriter(t *testing.T) (*packetWriter, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "out")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w, err := newPacketWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w, p
}

func size(t *testing.T, p string) int {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return int(st.Size())
}

// TestPacketWriterHeaderThenPayload is pkg/sftp's data packet: its
// header is held until the payload finishes it, then both leave at once;
// a packet written whole leaves at once.
func TestPacketWriterHeaderThenPayload(t *testing.T) {
	w, p := newTestWriter(t)
	data, ends := packets(9+32768, 24)
	if _, err := w.Write(data[:13]); err != nil {
		t.Fatal(err)
	}
	if n := size(t, p); n != 0 {
		t.Fatalf("after the header alone: %d bytes written, want 0 (held)", n)
	}
	if _, err := w.Write(data[13:ends[0]]); err != nil {
		t.Fatal(err)
	}
	if n := size(t, p); n != ends[0] {
		t.Fatalf("after the payload: %d bytes written, want %d", n, ends[0])
	}
	if _, err := w.Write(data[ends[0]:]); err != nil {
		t.Fatal(err)
	}
	if n := size(t, p); n != ends[1] {
		t.Fatalf("after a whole status packet: %d bytes written, want %d", n, ends[1])
	}
	got, _ := os.ReadFile(p)
	if !bytes.Equal(got, data) {
		t.Fatal("bytes differ")
	}
}

// TestPacketWriterAnySplit writes packets in random pieces: after every
// write, every finished packet is out (never held), and at most maxHeld
// bytes wait; the bytes come out unchanged.
func TestPacketWriterAnySplit(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		var sizes []int
		for range 1 + r.IntN(20) {
			switch r.IntN(3) {
			case 0:
				sizes = append(sizes, r.IntN(30))
			case 1:
				sizes = append(sizes, r.IntN(3*maxHeld))
			default:
				sizes = append(sizes, 9+32768)
			}
		}
		data, ends := packets(sizes...)
		w, p := newTestWriter(t)
		off := 0
		for off < len(data) {
			n := min(len(data)-off, 1+r.IntN(1+r.IntN(40000)))
			if k, err := w.Write(data[off : off+n]); err != nil || k != n {
				t.Fatalf("round %d: Write: %d, %v", round, k, err)
			}
			off += n
			done := 0
			for _, e := range ends {
				if e <= off {
					done = e
				}
			}
			out := size(t, p)
			if out < done || out > off || off-out > maxHeld {
				t.Fatalf("round %d: %d bytes written of %d, finished packets end at %d", round, out, off, done)
			}
		}
		if n := size(t, p); n != len(data) {
			t.Fatalf("round %d: %d bytes written, want all %d", round, n, len(data))
		}
		got, _ := os.ReadFile(p)
		if !bytes.Equal(got, data) {
			t.Fatalf("round %d: bytes differ", round)
		}
	}
}

// TestPacketWriterCloseWritesWhatIsHeld: nothing is lost at the end.
func TestPacketWriterCloseWritesWhatIsHeld(t *testing.T) {
	w, p := newTestWriter(t)
	if _, err := w.Write([]byte{0, 0, 0, 9, 1, 2}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := size(t, p); n != 6 {
		t.Fatalf("after Close: %d bytes, want 6", n)
	}
	if _, err := w.Write([]byte{1}); err == nil {
		t.Fatal("Write after Close succeeded")
	}
}

// TestPacketWriterGathersRepliesWhileBusy: while the server reads
// requests it already has, small finished replies wait, and leave in one
// write when it is about to wait for input; a big packet leaves at once,
// with them; the start of an unfinished packet stays behind.
func TestPacketWriterGathersRepliesWhileBusy(t *testing.T) {
	w, p := newTestWriter(t)
	data, ends := packets(24, 24, 24, 9+32768, 24, 9+100)
	w.waiting(false)
	for i := range 3 {
		from := 0
		if i > 0 {
			from = ends[i-1]
		}
		if _, err := w.Write(data[from:ends[i]]); err != nil {
			t.Fatal(err)
		}
	}
	if n := size(t, p); n != 0 {
		t.Fatalf("three replies while busy: %d bytes written, want 0 (held)", n)
	}
	w.waiting(true)
	if n := size(t, p); n != ends[2] {
		t.Fatalf("about to wait: %d bytes written, want the three replies' %d", n, ends[2])
	}
	if _, err := w.Write(data[ends[2]:ends[3]]); err != nil {
		t.Fatal(err)
	}
	if n := size(t, p); n != ends[3] {
		t.Fatalf("a reply while waiting: %d bytes written, want %d at once", n, ends[3])
	}
	w.waiting(false)
	if _, err := w.Write(data[ends[3] : ends[4]+13]); err != nil {
		t.Fatal(err)
	}
	if n := size(t, p); n != ends[3] {
		t.Fatalf("a reply and a packet's start while busy: %d bytes written, want %d", n, ends[3])
	}
	w.waiting(true)
	if n := size(t, p); n != ends[4] {
		t.Fatalf("about to wait: %d bytes written, want %d (the reply, not the unfinished packet)", n, ends[4])
	}
	if _, err := w.Write(data[ends[4]+13:]); err != nil {
		t.Fatal(err)
	}
	if n := size(t, p); n != len(data) {
		t.Fatalf("the packet finished: %d bytes written, want %d", n, len(data))
	}
	w.waiting(false)
	big, _ := packets(24, 9+32768)
	if _, err := w.Write(big[:28]); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(big[28:]); err != nil {
		t.Fatal(err)
	}
	if n := size(t, p); n != len(data)+len(big) {
		t.Fatalf("a data packet while busy: %d bytes written, want %d (it and the reply before it)", n, len(data)+len(big))
	}
	got, _ := os.ReadFile(p)
	if !bytes.Equal(got, append(data, big...)) {
		t.Fatal("bytes differ")
	}
}

// TestReplyGathererAnswersEachRequest: a client that sends one request
// and waits for its answer gets it, though the server answers while it
// still reads (the answer leaves before the server waits for more).
func TestReplyGathererAnswersEachRequest(t *testing.T) {
	reqR, reqW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer reqW.Close()
	repR, repW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer repR.Close()
	w, err := newPacketWriter(repW)
	if err != nil {
		t.Fatal(err)
	}
	in := bufio.NewReaderSize(replyGatherer{reqR, w}, 4096)
	served := make(chan struct{})
	go func() {
		defer close(served)
		defer w.Close()
		var req [8]byte
		for {
			// Answer as soon as the request is read, before the next read.
			if _, err := io.ReadFull(in, req[:]); err != nil {
				return
			}
			if _, err := w.Write(append(binary.BigEndian.AppendUint32(nil, 4), req[4:]...)); err != nil {
				return
			}
		}
	}()
	for i := range 20 {
		req := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 4), uint32(i))
		if _, err := reqW.Write(req); err != nil {
			t.Fatal(err)
		}
		_ = repR.SetReadDeadline(time.Now().Add(5 * time.Second))
		var rep [8]byte
		if _, err := io.ReadFull(repR, rep[:]); err != nil {
			t.Fatalf("request %d: no answer: %v", i, err)
		}
		if got := binary.BigEndian.Uint32(rep[4:]); got != uint32(i) {
			t.Fatalf("request %d: answer %d", i, got)
		}
	}
	reqW.Close()
	<-served
}
