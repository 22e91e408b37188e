package logging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

// clock is a zapcore.Clock the test moves by hand.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time                         { return c.now }
func (c *clock) NewTicker(d time.Duration) *time.Ticker { return time.NewTicker(d) }

func limitedLogger(t *testing.T) (*zap.Logger, *clock, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	l, err := New(Options{Format: "json", Level: "debug", Stdout: &buf})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)}
	return l.WithOptions(zap.WithClock(clk)), clk, &buf
}

// lines returns the logged entries and empties buf.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		out = append(out, m)
	}
	buf.Reset()
	return out
}

func TestRepeatedWarningsLimited(t *testing.T) {
	l, clk, buf := limitedLogger(t)
	dns := l.Named("dns")
	tick := func(d time.Duration, n int) {
		for range n {
			dns.Warn("no upstream answered", zap.String("name", "x."))
			clk.now = clk.now.Add(d)
		}
	}
	// The burst passes, then nothing for the first second.
	tick(time.Millisecond, 100)
	got := lines(t, buf)
	if len(got) != limitBurst {
		t.Fatalf("%d lines of the burst, want %d", len(got), limitBurst)
	}
	for _, m := range got {
		if _, ok := m["suppressed"]; ok {
			t.Fatalf("a line of the burst says suppressed: %v", m)
		}
	}
	// A second after the burst: one line, with the count held back.
	clk.now = clk.now.Add(time.Second)
	tick(time.Millisecond, 10)
	got = lines(t, buf)
	if len(got) != 1 || got[0]["suppressed"] != float64(95) || got[0]["name"] != "x." || got[0]["service"] != "dns" {
		t.Fatalf("after a second: %v", got)
	}
	// Then every 2, 4, 8 ... seconds, up to one a minute.
	var passed []time.Duration
	start := clk.now
	for range 4000 {
		before := buf.Len()
		dns.Warn("no upstream answered")
		if buf.Len() > before {
			passed = append(passed, clk.now.Sub(start))
		}
		clk.now = clk.now.Add(100 * time.Millisecond)
	}
	lines(t, buf)
	var gaps []time.Duration
	for i := 1; i < len(passed); i++ {
		gaps = append(gaps, (passed[i] - passed[i-1]).Round(time.Second))
	}
	want := []time.Duration{4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
	if len(gaps) < len(want) {
		t.Fatalf("gaps %v, want %v then a minute each", gaps, want)
	}
	for i, w := range want {
		if gaps[i] != w {
			t.Fatalf("gaps %v, want %v then a minute each", gaps, want)
		}
	}
	// Quiet for a minute: a fresh burst, the first reporting what was held.
	clk.now = clk.now.Add(2 * time.Minute)
	tick(time.Millisecond, limitBurst)
	got = lines(t, buf)
	if len(got) != limitBurst || got[0]["suppressed"] == nil || got[1]["suppressed"] != nil {
		t.Fatalf("after a quiet spell: %v", got)
	}
}

func TestLimitIsPerKindAndLevel(t *testing.T) {
	l, _, buf := limitedLogger(t)
	for range 50 {
		l.Named("a").Error("accept failed")
		l.Named("b").Error("accept failed")
		l.Named("a").Warn("other message")
		l.Named("a").Info("accept failed")
		l.Debug("debug line")
	}
	count := map[string]int{}
	for _, m := range lines(t, buf) {
		count[fmt.Sprint(m["level"], " ", m["service"], " ", m["msg"])]++
		count[fmt.Sprint(m["level"])]++
	}
	for kind, want := range map[string]int{
		"error a accept failed": limitBurst, "error b accept failed": limitBurst,
		"warn a other message": limitBurst, "info": 50, "debug": 50,
	} {
		if count[kind] != want {
			t.Errorf("%s: %d lines, want %d", kind, count[kind], want)
		}
	}
}

func TestLimitForgetsQuietKinds(t *testing.T) {
	lim := &limiter{kinds: make(map[limitKey]*limitState)}
	now := time.Now()
	for i := range limitKeys {
		lim.allow(limitKey{"s", string(rune(i))}, now)
	}
	if pass, _ := lim.allow(limitKey{"s", "one more"}, now); !pass || len(lim.kinds) != limitKeys {
		t.Fatalf("a new kind past the bound: pass %v, %d kinds", pass, len(lim.kinds))
	}
	if pass, _ := lim.allow(limitKey{"s", "later"}, now.Add(2*limitMaxGap)); !pass || len(lim.kinds) != 1 {
		t.Fatalf("after the others went quiet: pass %v, %d kinds, want them forgotten", pass, len(lim.kinds))
	}
}
