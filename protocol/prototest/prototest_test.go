package prototest

import (
	"testing"
	"time"

	"github.com/twistd-go/twistd/protocol"
)

func TestAdvanceOrderAndReset(t *testing.T) {
	tr := NewTransport()
	var got []string
	a := tr.CallLater(2*time.Second, func() { got = append(got, "a") })
	tr.CallLater(time.Second, func() {
		got = append(got, "b")
		tr.CallLater(0, func() { got = append(got, "b0") }) // set while advancing
	})
	tr.CallLater(time.Second, func() { got = append(got, "c") }) // same time: after b
	stopped := tr.CallLater(time.Second, func() { got = append(got, "stopped") })
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop: want true, then false")
	}
	if !a.Reset(3 * time.Second) {
		t.Fatal("Reset of a pending timer returned false")
	}
	tr.Advance(5 * time.Second)
	if want := "b c b0 a"; join(got) != want {
		t.Fatalf("ran %q, want %q", join(got), want)
	}
	if tr.Pending() != 0 {
		t.Fatalf("%d timers left", tr.Pending())
	}
	tr.Disconnect(&protocol.Base{}, nil)
	if a.Reset(0) {
		t.Fatal("Reset after Disconnect reported a pending timer")
	}
	tr.Write([]byte("x"))
	if tr.Value() != "" {
		t.Fatal("a write after the loss was kept")
	}
}

func join(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out
}
