package logging

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func TestRecentKeepsWarningsAndErrors(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(Options{Format: "console", Level: "info", Stdout: &buf})
	if err != nil {
		t.Fatal(err)
	}
	site := l.Named("site").With(zap.String("listener", "127.0.0.1:80"))
	site.Info("not kept")
	site.Warn("slow client", zap.Int("ms", 1500))
	l.Error("cannot write", zap.Error(errors.New("disk full")), zap.String("file", "a b.log"))
	got := l.Recent.Lines()
	if len(got) != 2 {
		t.Fatalf("kept %d lines, want 2: %+v", len(got), got)
	}
	if g := got[0]; g.Level != "error" || g.Service != "" || g.Message != "cannot write" || g.Fields != `error="disk full" file="a b.log"` {
		t.Errorf("newest line: %+v", g)
	}
	if g := got[1]; g.Level != "warn" || g.Service != "site" || g.Message != "slow client" || g.Fields != "listener=127.0.0.1:80 ms=1500" {
		t.Errorf("older line: %+v", g)
	}
	if got[0].Time.Before(got[1].Time) || got[0].Time.Location().String() != "UTC" {
		t.Errorf("times: %v then %v", got[1].Time, got[0].Time)
	}
}

func TestRecentIsBoundedAndRateLimited(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(Options{Format: "console", Level: "error", Stdout: &buf})
	if err != nil {
		t.Fatal(err)
	}
	// One kind repeated: the limiter lets its burst through, no more.
	for range 100 {
		l.Warn("same thing again")
	}
	if n := len(l.Recent.Lines()); n != limitBurst {
		t.Fatalf("a repeated warning kept %d times, want the burst of %d", n, limitBurst)
	}
	if buf.Len() != 0 {
		t.Fatalf("warnings written at level error: %q", buf.String())
	}
	for i := range 2 * recentLines {
		l.Error("failure "+strconv.Itoa(i), zap.String("big", strings.Repeat("x", 5000)))
	}
	got := l.Recent.Lines()
	if len(got) != recentLines {
		t.Fatalf("kept %d lines, want %d", len(got), recentLines)
	}
	if got[0].Message != "failure "+strconv.Itoa(2*recentLines-1) {
		t.Errorf("newest is %q", got[0].Message)
	}
	if len(got[0].Fields) > recentFieldMax || !strings.HasSuffix(got[0].Fields, "…") {
		t.Errorf("fields not bounded: %d bytes", len(got[0].Fields))
	}
}
