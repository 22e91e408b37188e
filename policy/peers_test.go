package policy

import (
	"net"
	"strconv"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestBuckets(r Rate, maxPeers int) (*PeerBuckets, *fakeClock) {
	c := &fakeClock{t: time.Unix(1e9, 0)}
	return NewPeerBuckets(PeerBucketsConfig{Rate: r, MaxPeers: maxPeers, Now: c.now}), c
}

func TestPeerBucketsExactWaits(t *testing.T) {
	b, clock := newTestBuckets(Rate{N: 3, Per: time.Minute}, 100)
	for i := range 3 {
		if wait, _ := b.Take("a"); wait != 0 {
			t.Fatalf("take %d: wait %s within the burst", i+1, wait)
		}
	}
	if wait, n := b.Take("a"); wait != 20*time.Second || n != 1 {
		t.Fatalf("past the burst: wait %s, n %d; want 20s, 1", wait, n)
	}
	if wait, n := b.Take("a"); wait != 20*time.Second || n != 2 {
		t.Fatalf("again: wait %s, n %d; want 20s, 2", wait, n)
	}
	if b.Wait("a") != 20*time.Second || b.Wait("b") != 0 {
		t.Fatal("Wait disagrees with Take")
	}
	clock.advance(20 * time.Second)
	if wait, n := b.Take("a"); wait != 0 || n != 2 {
		t.Fatalf("refilled: wait %s, n %d; want 0 and the 2 refusals before", wait, n)
	}
	if wait, n := b.Take("a"); wait == 0 || n != 1 {
		t.Fatalf("spent again: wait %s, n %d; want a wait, a new run", wait, n)
	}
}

func TestPeerBucketsGiveRefunds(t *testing.T) {
	b, clock := newTestBuckets(Rate{N: 2, Per: time.Minute}, 100)
	for i := range 50 {
		if wait, _ := b.Take("a"); wait != 0 {
			t.Fatalf("take %d: wait %s", i+1, wait)
		}
		b.Give("a")
		clock.advance(time.Millisecond)
	}
	if n := b.Len(); n != 0 {
		t.Fatalf("%d peers remembered after refunded takes only", n)
	}
}

func TestPeerBucketsSpendStaysEmpty(t *testing.T) {
	b, clock := newTestBuckets(Rate{N: 3, Per: time.Minute}, 100)
	for i, want := range []int{1, 2, 3, 3, 3} {
		if n := b.Spend("a"); n != want {
			t.Fatalf("spend %d: %d spent, want %d", i+1, n, want)
		}
	}
	if b.Wait("a") != 20*time.Second {
		t.Fatalf("empty bucket waits %s, want one interval", b.Wait("a"))
	}
	clock.advance(20 * time.Second)
	if b.Wait("a") != 0 {
		t.Fatal("a spent bucket went into debt")
	}
}

func TestPeerBucketsUnlimited(t *testing.T) {
	b, _ := newTestBuckets(Rate{}, 100)
	for range 1000 {
		if wait, _ := b.Take("a"); wait != 0 {
			t.Fatal("no limit, but a wait")
		}
		b.Spend("a")
	}
	if b.Limited() || b.Len() != 0 {
		t.Fatal("an unlimited PeerBuckets remembers peers")
	}
}

// The peers remembered are bounded; the least recently seen go first, so
// a peer just limited stays limited through a flood of new ones.
func TestPeerBucketsBounded(t *testing.T) {
	b, clock := newTestBuckets(Rate{N: 1, Per: time.Hour}, 100)
	for i := range 1000 {
		b.Take("10.0.0." + strconv.Itoa(i))
		clock.advance(time.Millisecond)
		if n := b.Len(); n > 100 {
			t.Fatalf("%d peers remembered, bound 100", n)
		}
	}
	b.Take("192.0.2.1")
	for i := range 50 {
		clock.advance(time.Millisecond)
		b.Take("10.1.0." + strconv.Itoa(i))
	}
	if wait, _ := b.Take("192.0.2.1"); wait == 0 {
		t.Fatal("a peer limited a moment ago was forgotten before older ones")
	}
}

func TestPeerKey(t *testing.T) {
	for _, tc := range []struct {
		peer net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 5555}, "192.0.2.1"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.1"), Port: 5555}, "192.0.2.1"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6"), Port: 5555}, "2001:db8:1:2::/64"},
		{&net.UnixAddr{Name: "/run/x.sock", Net: "unix"}, "/run/x.sock"},
		{nil, ""},
	} {
		if got := PeerKey(tc.peer); got != tc.want {
			t.Errorf("PeerKey(%v) = %q, want %q", tc.peer, got, tc.want)
		}
	}
}
