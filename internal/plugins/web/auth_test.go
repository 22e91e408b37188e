package web

import (
	"strconv"
	"testing"
	"time"

	"github.com/twistd-go/twistd/plugin"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestFailures(r plugin.Rate, max int) (*failures, *fakeClock) {
	c := &fakeClock{t: time.Unix(1e9, 0)}
	return newFailures(r, max, c.now), c
}

func TestFailuresLimitThenRefill(t *testing.T) {
	f, clock := newTestFailures(plugin.Rate{N: 3, Per: time.Minute}, 100)
	for i := 0; i < 3; i++ {
		if wait, _ := f.admit("192.0.2.1"); wait != 0 {
			t.Fatalf("attempt %d: wait %s within the limit", i+1, wait)
		}
		f.failed("192.0.2.1")
	}
	wait, first := f.admit("192.0.2.1")
	if wait != 20*time.Second || !first {
		t.Fatalf("past the limit: wait %s, first %v; want 20s, true", wait, first)
	}
	if wait, first := f.admit("192.0.2.1"); wait != 20*time.Second || first {
		t.Fatalf("again: wait %s, first %v; want 20s, false", wait, first)
	}
	if wait, _ := f.admit("192.0.2.2"); wait != 0 {
		t.Fatalf("another peer waits %s", wait)
	}
	clock.advance(5 * time.Second)
	if wait, _ := f.admit("192.0.2.1"); wait != 15*time.Second {
		t.Fatalf("5s later: wait %s, want 15s", wait)
	}
	clock.advance(15 * time.Second)
	if wait, _ := f.admit("192.0.2.1"); wait != 0 {
		t.Fatalf("refilled: wait %s", wait)
	}
	if wait, first := f.admit("192.0.2.1"); wait == 0 || !first {
		t.Fatalf("the refilled one spent: wait %s, first %v; want a wait, and a new episode", wait, first)
	}
}

// A successful login gives its allowance back: a user who logs in all
// day is never limited, and leaves nothing behind.
func TestFailuresSuccessRefunds(t *testing.T) {
	f, clock := newTestFailures(plugin.Rate{N: 2, Per: time.Minute}, 100)
	for i := 0; i < 50; i++ {
		if wait, _ := f.admit("192.0.2.1"); wait != 0 {
			t.Fatalf("login %d: wait %s", i+1, wait)
		}
		f.succeeded("192.0.2.1")
		clock.advance(time.Millisecond)
	}
	if n := f.len(); n != 0 {
		t.Fatalf("%d peers remembered after successful logins only", n)
	}
}

// A peer's failures are logged on its first failure, then at most once a
// minute with the number since the last line.
func TestFailuresLogOncePerMinute(t *testing.T) {
	for _, r := range []plugin.Rate{{}, {N: 100, Per: time.Minute}} {
		f, clock := newTestFailures(r, 100)
		if log, n := f.failed("192.0.2.1"); !log || n != 1 {
			t.Fatalf("%v: first failure: log %v, n %d", r, log, n)
		}
		for i := 0; i < 4; i++ {
			clock.advance(time.Second)
			if log, _ := f.failed("192.0.2.1"); log {
				t.Fatalf("%v: failure %d logged within the minute", r, i+2)
			}
		}
		clock.advance(time.Minute)
		if log, n := f.failed("192.0.2.1"); !log || n != 5 {
			t.Fatalf("%v: a minute later: log %v, n %d; want true, 5", r, log, n)
		}
	}
}

// No limit: nothing is spent, nothing waits.
func TestFailuresUnlimited(t *testing.T) {
	f, _ := newTestFailures(plugin.Rate{}, 100)
	for i := 0; i < 1000; i++ {
		if wait, _ := f.admit("192.0.2.1"); wait != 0 {
			t.Fatalf("attempt %d: wait %s without a limit", i+1, wait)
		}
		f.failed("192.0.2.1")
	}
}

// The peers remembered are bounded; the oldest go first, so a peer just
// limited stays limited through a flood of new ones.
func TestFailuresBounded(t *testing.T) {
	f, clock := newTestFailures(plugin.Rate{N: 1, Per: time.Hour}, 100)
	for i := 0; i < 1000; i++ {
		peer := "10.0.0." + strconv.Itoa(i)
		f.admit(peer)
		f.failed(peer)
		clock.advance(time.Millisecond)
		if n := f.len(); n > 100 {
			t.Fatalf("%d peers remembered, bound 100", n)
		}
	}
	f.admit("192.0.2.1")
	f.failed("192.0.2.1")
	for i := 0; i < 50; i++ {
		peer := "10.1.0." + strconv.Itoa(i)
		clock.advance(time.Millisecond)
		f.admit(peer)
		f.failed(peer)
	}
	if wait, _ := f.admit("192.0.2.1"); wait == 0 {
		t.Fatal("a peer limited a moment ago was forgotten before older ones")
	}
}

func TestPeerKey(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{remote: "192.0.2.1:5555", want: "192.0.2.1"},
		{remote: "[::ffff:192.0.2.1]:5555", want: "192.0.2.1"},
		{remote: "[2001:db8:1:2:3:4:5:6]:443", want: "2001:db8:1:2::/64"},
		{remote: "[2001:db8:1:2:ffff::1]:80", want: "2001:db8:1:2::/64"},
		{remote: "@", want: "@"},
		{remote: "", want: ""},
	} {
		if got := peerKey(tc.remote); got != tc.want {
			t.Errorf("peerKey(%q) = %q, want %q", tc.remote, got, tc.want)
		}
	}
}
