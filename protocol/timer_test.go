package protocol_test

import (
	"errors"
	"testing"
	"time"

	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/protocol/prototest"
)

func TestLoopingCall(t *testing.T) {
	tr := prototest.NewTransport()
	begin := tr.Now()
	var at []time.Duration
	lc := protocol.NewLoopingCall(tr, func() { at = append(at, tr.Now().Sub(begin)) })
	if err := lc.Start(0, true); !errors.Is(err, protocol.ErrBadInterval) {
		t.Fatalf("Start(0) = %v, want ErrBadInterval", err)
	}
	if err := lc.Start(10*time.Second, false); err != nil {
		t.Fatal(err)
	}
	tr.Advance(35 * time.Second)
	if want := []time.Duration{10e9, 20e9, 30e9}; !equal(at, want) {
		t.Fatalf("calls at %v, want %v", at, want)
	}
	// Restarted with now: at once, then every 5s from the restart.
	at = nil
	if err := lc.Start(5*time.Second, true); err != nil {
		t.Fatal(err)
	}
	tr.Advance(11 * time.Second)
	if want := []time.Duration{35e9, 40e9, 45e9}; !equal(at, want) || !lc.Running() {
		t.Fatalf("calls at %v, want %v", at, want)
	}
	lc.Stop()
	tr.Advance(time.Minute)
	if len(at) != 3 || lc.Running() || tr.Pending() != 0 {
		t.Fatalf("calls after Stop: %v, running %v, %d timers", at, lc.Running(), tr.Pending())
	}
}

// A call that takes longer than the interval skips the intervals it
// missed: the rate stays fixed.
func TestLoopingCallSkipsMissedIntervals(t *testing.T) {
	tr := prototest.NewTransport()
	begin := tr.Now()
	var at []time.Duration
	var lc *protocol.LoopingCall
	lc = protocol.NewLoopingCall(tr, func() {
		at = append(at, tr.Now().Sub(begin))
		if len(at) == 2 {
			tr.Advance(25 * time.Second) // a slow call: 2.5 intervals
		}
		if len(at) == 4 {
			lc.Stop() // from inside the call
		}
	})
	if err := lc.Start(10*time.Second, true); err != nil {
		t.Fatal(err)
	}
	tr.Advance(time.Minute)
	if want := []time.Duration{0, 10e9, 40e9, 50e9}; !equal(at, want) {
		t.Fatalf("calls at %v, want %v", at, want)
	}
}

func TestTimersStopOnDisconnect(t *testing.T) {
	tr := prototest.NewTransport()
	p := &protocol.Base{}
	p.ConnectionMade(tr)
	ran := 0
	tm := tr.CallLater(time.Second, func() { ran++ })
	lc := protocol.NewLoopingCall(tr, func() { ran++ })
	if err := lc.Start(time.Second, false); err != nil {
		t.Fatal(err)
	}
	tr.Disconnect(p, nil)
	tr.Advance(time.Hour)
	if ran != 0 || tm.Reset(0) || tm.Stop() {
		t.Fatalf("%d calls after the connection was lost", ran)
	}
}

func equal(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
