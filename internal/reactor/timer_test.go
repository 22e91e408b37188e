package reactor

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twistd-go/twistd/policy"
	"github.com/twistd-go/twistd/protocol"
)

// ticker is a protocol written the way CallLater promises it may be: its
// state is plain fields touched by DataReceived, a LoopingCall and chains
// of CallLater, with no lock. The race detector, and the overlap counter,
// catch any two of its callbacks running at once.
type ticker struct {
	t     protocol.Transport
	loop  *protocol.LoopingCall
	far   protocol.Timer // never due: must be stopped by the connection's loss
	ticks int
	data  int
	chain int
	last  []byte

	busy      atomic.Int32
	overlaps  *atomic.Int32
	afterLost *atomic.Int32
	lost      atomic.Bool
	timers    chan protocol.Timer // the timers, for the test to poke after the loss
}

func (p *ticker) enter() func() {
	if p.busy.Add(1) != 1 {
		p.overlaps.Add(1)
	}
	if p.lost.Load() {
		p.afterLost.Add(1)
	}
	return func() { p.busy.Add(-1) }
}

func (p *ticker) ConnectionMade(t protocol.Transport) {
	defer p.enter()()
	p.t = t
	p.loop = protocol.NewLoopingCall(t, func() {
		defer p.enter()()
		p.ticks++
	})
	if err := p.loop.Start(time.Millisecond, true); err != nil {
		panic(err)
	}
	p.far = t.CallLater(time.Hour, func() { defer p.enter()(); p.ticks = -1000 })
	p.timers <- p.far
	var step func()
	step = func() { // a timer re-arming itself at zero delay
		defer p.enter()()
		if p.chain++; p.chain < 1000 {
			t.CallLater(0, step)
		}
	}
	t.CallLater(0, step)
}

func (p *ticker) DataReceived(d []byte) {
	defer p.enter()()
	p.data += len(d)
	p.last = append(p.last, d...)
	if i := bytes.LastIndexByte(p.last, '\n'); i >= 0 {
		if bytes.HasSuffix(p.last[:i], []byte("report")) {
			p.t.Write(fmt.Appendf(nil, "%d %d %d\n", p.ticks, p.data, p.chain))
		}
		p.last = append(p.last[:0], p.last[i+1:]...)
	}
	// A timer set from a callback, due at once, sees this call's writes.
	n := p.data
	p.timers <- p.t.CallLater(0, func() {
		defer p.enter()()
		if p.data < n {
			panic("timer ran before the DataReceived that set it")
		}
	})
}

func (p *ticker) ConnectionLost(error) {
	defer p.enter()()
	p.lost.Store(true)
	p.loop.Stop()
}

// Timers, a LoopingCall and DataReceived on one connection never overlap,
// under either reactor, and none runs after ConnectionLost: the pending
// ones are stopped, and a Reset after the loss does nothing.
// Under the policies too: their transport passes CallLater through.
func TestCallLaterIsSerialisedAndStoppedOnLoss(t *testing.T) {
	t.Run("plain", func(t *testing.T) { bothDrivers(t, func(t *testing.T) { testCallLater(t, false) }) })
	t.Run("policies", func(t *testing.T) { bothDrivers(t, func(t *testing.T) { testCallLater(t, true) }) })
}

func testCallLater(t *testing.T, policies bool) {
	{
		var overlaps, afterLost atomic.Int32
		timers := make(chan protocol.Timer, 1<<16)
		protos := make(chan *ticker, 1)
		var f protocol.Factory = protocol.FactoryFunc(func(net.Addr) protocol.Protocol {
			p := &ticker{overlaps: &overlaps, afterLost: &afterLost, timers: timers}
			protos <- p
			return p
		})
		if policies {
			pol, err := policy.New(policy.Config{IdleTimeout: time.Hour, ReadLimit: 1 << 30}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			f = pol.WrapFactory(f)
		}
		srv, addr, _, logs := serveStream(t, f)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		sent := 0
		chunk := []byte(strings.Repeat("x", 100) + "\n")
		for i := 0; i < 200; i++ {
			n, err := c.Write(chunk)
			if err != nil {
				t.Fatal(err)
			}
			sent += n
			if i%20 == 0 {
				time.Sleep(2 * time.Millisecond) // let the ticks interleave
			}
		}
		r := bufio.NewReader(c)
		var ticks, data, chain int
		for data != sent || chain < 1000 || ticks < 2 {
			n, _ := c.Write([]byte("report\n"))
			sent += n
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the report: %v (log: %v)", err, logs.All())
			}
			if _, err := fmt.Sscan(line, &ticks, &data, &chain); err != nil {
				t.Fatalf("report %q: %v", line, err)
			}
			if ticks < 0 {
				t.Fatal("the hour-long timer fired")
			}
			time.Sleep(time.Millisecond)
		}
		p := <-protos
		c.Close()
		waitFor(t, "ConnectionLost", p.lost.Load)
		if p.far.Stop() || p.far.Reset(time.Millisecond) {
			t.Error("the pending timer was not stopped by the loss")
		}
		// Every timer the protocol ever set is dead: Reset does nothing.
		close(timers)
		for tm := range timers {
			if tm.Reset(0) {
				t.Fatal("a timer was still pending after ConnectionLost")
			}
		}
		if n := loopTimers(srv); n != 0 {
			t.Errorf("the event loops hold %d timers of lost connections", n)
		}
		// The negative can only be waited for: give a stray timer the
		// time to fire.
		time.Sleep(20 * time.Millisecond)
		if n := overlaps.Load(); n != 0 {
			t.Errorf("%d callbacks overlapped another", n)
		}
		if n := afterLost.Load(); n != 0 {
			t.Errorf("%d callbacks ran after ConnectionLost", n)
		}
	}
}

// timerProto hands its transport out, for tests that set timers from
// outside the connection's callbacks.
type timerProto struct {
	protocol.Base
	made chan protocol.Transport
}

func (p *timerProto) ConnectionMade(t protocol.Transport) { p.Transport = t; p.made <- t }

// A timer set, stopped or reset from another goroutine behaves: a stopped
// one never runs, a reset one runs at its new time, and a sleeping event
// loop wakes for a timer set while it sleeps.
func TestCallLaterFromAnotherGoroutine(t *testing.T) {
	bothDrivers(t, func(t *testing.T) {
		made := make(chan protocol.Transport, 1)
		_, addr, _, _ := serveStream(t, protocol.FactoryFunc(func(net.Addr) protocol.Protocol {
			return &timerProto{made: made}
		}))
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		tr := <-made
		time.Sleep(30 * time.Millisecond) // the loop is asleep in epoll_wait

		fired := make(chan string, 4)
		begin := time.Now()
		tr.CallLater(20*time.Millisecond, func() { fired <- "first" })
		stopped := tr.CallLater(10*time.Millisecond, func() { fired <- "stopped" })
		if !stopped.Stop() {
			t.Fatal("Stop of a pending timer returned false")
		}
		if stopped.Stop() {
			t.Fatal("a second Stop returned true")
		}
		later := tr.CallLater(5*time.Millisecond, func() { fired <- "reset" })
		if !later.Reset(300 * time.Millisecond) {
			t.Fatal("Reset of a pending timer returned false")
		}
		for _, want := range []string{"first", "reset"} {
			select {
			case got := <-fired:
				if got != want {
					t.Fatalf("fired %q, want %q", got, want)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%q did not fire", want)
			}
		}
		if d := time.Since(begin); d < 300*time.Millisecond {
			t.Fatalf("the reset timer fired after %v, before its 300ms", d)
		}
		// A timer that ran can be armed again.
		if later.Reset(time.Millisecond) {
			t.Fatal("Reset of a timer that ran reported it pending")
		}
		select {
		case got := <-fired:
			if got != "reset" {
				t.Fatalf("fired %q, want the re-armed timer", got)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the re-armed timer did not fire")
		}
	})
}

type panickyTimer struct{ protocol.Base }

func (p *panickyTimer) ConnectionMade(t protocol.Transport) {
	p.Transport = t
	t.CallLater(time.Millisecond, func() { panic("boom") })
}

// A panic in a timer closes its connection and is logged, as one in any
// callback is.
func TestCallLaterPanicClosesTheConnection(t *testing.T) {
	bothDrivers(t, func(t *testing.T) {
		_, addr, _, logs := serveStream(t, protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &panickyTimer{} }))
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("the connection stayed open after its timer panicked")
		}
		waitFor(t, "the panic logged", func() bool {
			return logs.FilterMessage("protocol panicked in a timer; connection closed").Len() == 1
		})
	})
}

// orderProto sets timers out of order from ConnectionMade and records the
// order they run in.
type orderProto struct {
	protocol.Base
	ran  []int
	due  map[int]time.Time // when each delayed timer falls due, as set
	done chan []int
}

// orderStep is the spacing of orderProto's delayed timers.
const orderStep = 5 * time.Millisecond

func (p *orderProto) ConnectionMade(t protocol.Transport) {
	const n = 20
	p.due = map[int]time.Time{}
	for i := n; i > 0; i-- { // due in reverse of the order they are set
		p.due[100+i] = time.Now().Add(time.Duration(i) * orderStep)
		t.CallLater(time.Duration(i)*orderStep, func() { p.record(100 + i) })
	}
	for i := range n { // due at once: in the order they are set
		t.CallLater(0, func() { p.record(i) })
	}
	stopped := t.CallLater(0, func() { p.record(-1) })
	stopped.Stop()
}

func (p *orderProto) record(i int) {
	p.ran = append(p.ran, i)
	if len(p.ran) == 40 {
		p.done <- p.ran
	}
}

// dueBefore reports whether delayed timer a falls due before b: by
// their delays, unless setting them took so long (a loaded machine)
// that b, set later with the shorter delay, fell due after a.
func (p *orderProto) dueBefore(a, b int) bool {
	if d := p.due[b].Sub(p.due[a]); d > time.Millisecond || d < -time.Millisecond {
		return d > 0
	}
	return a < b
}

// Timers run in the order they fall due, and those due at the same time
// in the order they were set (Twisted's callLater order), on either reactor.
func TestCallLaterOrder(t *testing.T) {
	bothDrivers(t, func(t *testing.T) {
		done := make(chan []int, 1)
		var proto atomic.Pointer[orderProto]
		_, addr, _, _ := serveStream(t, protocol.FactoryFunc(func(net.Addr) protocol.Protocol {
			p := &orderProto{done: done}
			proto.Store(p)
			return p
		}))
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var ran []int
		select {
		case ran = <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the timers did not all run")
		}
		for i, v := range ran[:20] {
			if v != i {
				t.Fatalf("timers ran in the order %v", ran)
			}
		}
		p := proto.Load()
		for i := 21; i < len(ran); i++ {
			if !p.dueBefore(ran[i-1], ran[i]) {
				t.Fatalf("timers ran in the order %v, not as they fell due", ran)
			}
		}
	})
}
