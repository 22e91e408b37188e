package reactor

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// However many arrive, reloads and reopens coalesce and a stop comes first.
func TestSignalsStopWinsAndReloadsCoalesce(t *testing.T) {
	q := &signals{pending: make(chan struct{}, 1)}
	for _, s := range []os.Signal{syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGHUP, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT} {
		q.push(s)
	}
	var got []os.Signal
	for {
		s, ok := q.next()
		if !ok {
			break
		}
		got = append(got, s)
	}
	want := []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if s, ok := q.next(); ok {
		t.Fatalf("left pending: %v", s)
	}
}

// newSignals takes what arrives on its channel without the reader's help.
func TestSignalsDrainTheirChannel(t *testing.T) {
	in := make(chan os.Signal) // unbuffered: a send completes only once taken
	q := newSignals(in)
	for i := 0; i < 10; i++ {
		select {
		case in <- syscall.SIGHUP:
		case <-time.After(5 * time.Second):
			t.Fatal("the channel is not drained")
		}
	}
	close(in)
	<-q.pending
	if s, ok := q.next(); !ok || s != syscall.SIGHUP {
		t.Fatalf("next = %v, %v", s, ok)
	}
}
