// Package prototest gives protocol tests a fake Transport that records what
// is written and runs CallLater timers on a simulated clock (Twisted's
// proto_helpers.StringTransport and task.Clock).
package prototest

import (
	"bytes"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/twistd-go/twistd/protocol"
)

// Transport is a protocol.Transport that writes to memory and keeps its
// own time: a timer set with CallLater runs only when Advance moves the
// clock past it, on the goroutine calling Advance. Drive a protocol from
// one goroutine (ConnectionMade, DataReceived, Advance, Disconnect) and
// its callbacks never overlap, as under the reactor. Its methods are
// safe for concurrent use. The zero value is not usable: use NewTransport.
type Transport struct {
	// Peer and Host are what PeerAddr and HostAddr return.
	Peer, Host net.Addr

	mu         sync.Mutex
	out        bytes.Buffer
	now        time.Time
	seq        uint64
	timers     []*timer
	lost       bool // LoseConnection or Abort
	aborted    bool
	halfClosed bool
	paused     bool
	producer   protocol.Producer
	gone       bool // Disconnect: timers are dead
}

// NewTransport returns a Transport whose clock reads 2000-01-01 UTC, with
// the peer 192.0.2.1:1234 and the host 127.0.0.1:7000.
func NewTransport() *Transport {
	return &Transport{
		Peer: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1234},
		Host: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7000},
		now:  time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

// Write implements protocol.Transport; it is ignored once the connection
// is being lost, as a real transport's.
func (t *Transport) Write(p []byte) { t.WriteMany(p) }

// WriteMany implements protocol.Transport.
func (t *Transport) WriteMany(bufs ...[]byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.lost {
		return
	}
	for _, b := range bufs {
		t.out.Write(b)
	}
}

// Value returns what was written so far (Twisted's StringTransport.value).
func (t *Transport) Value() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.out.String()
}

// Clear forgets what was written so far.
func (t *Transport) Clear() {
	t.mu.Lock()
	t.out.Reset()
	t.mu.Unlock()
}

// LoseConnection implements protocol.Transport: it records the request
// (see Lost); the test calls Disconnect to end the connection.
func (t *Transport) LoseConnection() {
	t.mu.Lock()
	t.lost = true
	t.mu.Unlock()
}

// Abort implements protocol.Transport, as LoseConnection does.
func (t *Transport) Abort() {
	t.mu.Lock()
	t.lost, t.aborted = true, true
	t.mu.Unlock()
}

// Lost reports whether the protocol asked to close the connection, and
// whether it aborted it.
func (t *Transport) Lost() (lost, aborted bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lost, t.aborted
}

// CloseWrite implements protocol.Transport.
func (t *Transport) CloseWrite() {
	t.mu.Lock()
	t.halfClosed = true
	t.mu.Unlock()
}

// PauseReading implements protocol.Transport.
func (t *Transport) PauseReading() {
	t.mu.Lock()
	t.paused = true
	t.mu.Unlock()
}

// ResumeReading implements protocol.Transport.
func (t *Transport) ResumeReading() {
	t.mu.Lock()
	t.paused = false
	t.mu.Unlock()
}

// ReadingPaused reports whether the protocol paused reading.
func (t *Transport) ReadingPaused() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.paused
}

// RegisterProducer implements protocol.Transport; Producer returns it.
func (t *Transport) RegisterProducer(p protocol.Producer) {
	t.mu.Lock()
	t.producer = p
	t.mu.Unlock()
}

// Producer returns the registered producer.
func (t *Transport) Producer() protocol.Producer {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.producer
}

// PeerAddr implements protocol.Transport.
func (t *Transport) PeerAddr() net.Addr { return t.Peer }

// HostAddr implements protocol.Transport.
func (t *Transport) HostAddr() net.Addr { return t.Host }

// Now implements protocol.Clock: the simulated time.
func (t *Transport) Now() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.now
}

type timer struct {
	t    *Transport
	f    func()
	when time.Time
	seq  uint64 // orders timers due at the same time
	on   bool
}

// CallLater implements protocol.Transport on the simulated clock.
func (t *Transport) CallLater(d time.Duration, f func()) protocol.Timer {
	tm := &timer{t: t, f: f}
	tm.Reset(d)
	return tm
}

func (tm *timer) Stop() bool {
	t := tm.t
	t.mu.Lock()
	defer t.mu.Unlock()
	was := tm.on
	tm.on = false
	t.timers = slices.DeleteFunc(t.timers, func(x *timer) bool { return x == tm })
	return was
}

func (tm *timer) Reset(d time.Duration) bool {
	t := tm.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gone {
		return false
	}
	was := tm.on
	if !was {
		t.timers = append(t.timers, tm)
	}
	t.seq++
	tm.on, tm.when, tm.seq = true, t.now.Add(max(d, 0)), t.seq
	return was
}

// Pending returns how many timers are set.
func (t *Transport) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.timers)
}

// Advance moves the clock d forward, running every timer that falls due
// on the way, earliest first, each with the clock at its own time. A
// timer a callback sets within the span runs too.
func (t *Transport) Advance(d time.Duration) {
	t.mu.Lock()
	end := t.now.Add(d)
	for {
		var next *timer
		for _, tm := range t.timers {
			if !tm.when.After(end) && (next == nil || tm.when.Before(next.when) || tm.when.Equal(next.when) && tm.seq < next.seq) {
				next = tm
			}
		}
		if next == nil {
			break
		}
		next.on = false
		t.timers = slices.DeleteFunc(t.timers, func(x *timer) bool { return x == next })
		if next.when.After(t.now) {
			t.now = next.when
		}
		t.mu.Unlock()
		next.f()
		t.mu.Lock()
	}
	t.now = end
	t.mu.Unlock()
}

// Disconnect ends the connection as the reactor does: it stops every
// timer for good, then calls p.ConnectionLost(err).
func (t *Transport) Disconnect(p protocol.Protocol, err error) {
	t.mu.Lock()
	t.gone, t.lost = true, true
	for _, tm := range t.timers {
		tm.on = false
	}
	t.timers = nil
	t.mu.Unlock()
	p.ConnectionLost(err)
}

var (
	_ protocol.Transport = (*Transport)(nil)
	_ protocol.Clock     = (*Transport)(nil)
)
