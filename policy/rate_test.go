package policy

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twistd-go/twistd/protocol"
)

func TestPeerRateAllowsTheBurstThenTheRate(t *testing.T) {
	now := time.Unix(0, 0)
	r := NewPeerBuckets(PeerBucketsConfig{Rate: Rate{N: 3, Per: time.Minute}, Now: func() time.Time { return now }})
	for i := 0; i < 3; i++ {
		if !taken(r, "a") {
			t.Fatalf("connection %d of a burst of 3 refused", i+1)
		}
	}
	if taken(r, "a") {
		t.Fatal("a fourth connection within the minute admitted")
	}
	if !taken(r, "b") {
		t.Fatal("another peer shares the first one's allowance")
	}
	now = now.Add(19 * time.Second)
	if taken(r, "a") {
		t.Fatal("admitted before a token refilled (one every 20 s)")
	}
	now = now.Add(time.Second)
	if !taken(r, "a") {
		t.Fatal("refused although a token refilled")
	}
	now = now.Add(time.Hour)
	for i := 0; i < 3; i++ {
		if !taken(r, "a") {
			t.Fatalf("after an hour, connection %d refused", i+1)
		}
	}
	if taken(r, "a") {
		t.Fatal("the allowance refilled past its burst")
	}
}

// A rate below one a period still admits one connection at once.
func TestPeerRateBurstIsAtLeastOne(t *testing.T) {
	now := time.Unix(0, 0)
	r := NewPeerBuckets(PeerBucketsConfig{Rate: Rate{N: 0.5, Per: time.Second}, Now: func() time.Time { return now }})
	if !taken(r, "a") || taken(r, "a") {
		t.Fatal("want one connection, then a refusal")
	}
	now = now.Add(2 * time.Second)
	if !taken(r, "a") {
		t.Fatal("refused after 2 s at 0.5/s")
	}
}

// The limiter's memory is bounded: past the bound, refilled peers are
// forgotten first, then others.
func TestPeerRateForgets(t *testing.T) {
	now := time.Unix(0, 0)
	r := NewPeerBuckets(PeerBucketsConfig{Rate: Rate{N: 1, Per: time.Second}, MaxPeers: 100, Now: func() time.Time { return now }})
	for i := 0; i < 100; i++ {
		taken(r, strconv.Itoa(i))
	}
	now = now.Add(time.Second) // every allowance whole again
	taken(r, "new")
	if r.Len() != 1 {
		t.Fatalf("%d peers remembered, want only the new one", r.Len())
	}
	for i := 0; i < 200; i++ {
		taken(r, strconv.Itoa(i)) // none refills: same instant
		if r.Len() > 100 {
			t.Fatalf("%d peers remembered, bound %d", r.Len(), 100)
		}
	}
}

func TestRateString(t *testing.T) {
	for r, want := range map[Rate]string{{}: "0", {N: 10, Per: time.Second}: "10/s", {N: 2.5, Per: time.Minute}: "2.5/m", {N: 1, Per: time.Hour}: "1/h"} {
		if got := r.String(); got != want {
			t.Errorf("%#v: %q, want %q", r, got, want)
		}
	}
}

type refusalCounter map[string]int

func (c refusalCounter) Refused(reason string) { c[reason]++ }

// The rate refuses through the same path as the other policies: no
// protocol, counted under its key; a connection the per-peer limit
// refuses spends no allowance.
func TestWrapFactoryRefusesOverTheRate(t *testing.T) {
	cnt := refusalCounter{}
	p, err := New(Config{MaxConnectionRatePerPeer: Rate{N: 2, Per: time.Hour}, MaxConnectionsPerPeer: 1}, nil, cnt)
	if err != nil {
		t.Fatal(err)
	}
	f := p.WrapFactory(protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &echoing{} }))
	peer := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1}
	first := f.BuildProtocol(peer)
	if first == nil {
		t.Fatal("first connection refused")
	}
	if f.BuildProtocol(peer) != nil {
		t.Fatal("second connection admitted over max_connections_per_peer 1")
	}
	first.ConnectionMade(&countingTransport{})
	first.ConnectionLost(nil)
	second := f.BuildProtocol(peer)
	if second == nil {
		t.Fatal("second allowance spent by the connection max_connections_per_peer refused")
	}
	second.ConnectionMade(&countingTransport{})
	second.ConnectionLost(nil)
	if f.BuildProtocol(&net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 2}) != nil {
		t.Fatal("third connection within the hour admitted")
	}
	if cnt[ReasonMaxConnectionRatePerPeer] != 1 || cnt[ReasonMaxConnectionsPerPeer] != 1 {
		t.Fatalf("counted %v", cnt)
	}
}

func TestConfigRejectsANegativeRate(t *testing.T) {
	if _, err := New(Config{MaxConnectionRatePerPeer: Rate{N: -1, Per: time.Second}}, nil, nil); err == nil {
		t.Fatal("a negative rate was accepted")
	}
}
