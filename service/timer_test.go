package service

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestTimerRunsNowAndEveryInterval(t *testing.T) {
	var runs atomic.Int64
	start := time.Now()
	tm := &Timer{Interval: 20 * time.Millisecond, Func: func(context.Context) error {
		runs.Add(1)
		return nil
	}}
	if err := tm.Start(context.Background(), &Env{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "5 runs", func() bool { return runs.Load() >= 5 })
	elapsed := time.Since(start)
	if err := tm.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if elapsed < 4*20*time.Millisecond {
		t.Errorf("5 runs in %v: faster than the interval", elapsed)
	}
	after := runs.Load()
	time.Sleep(60 * time.Millisecond) // three intervals: none may run
	if runs.Load() != after {
		t.Errorf("runs went on after Stop: %d then %d", after, runs.Load())
	}
}

// The first run comes at Start, not an Interval later.
func TestTimerFirstRunAtStart(t *testing.T) {
	ran := make(chan struct{}, 1)
	tm := &Timer{Interval: time.Hour, Func: func(context.Context) error { ran <- struct{}{}; return nil }}
	if err := tm.Start(context.Background(), &Env{}); err != nil {
		t.Fatal(err)
	}
	defer tm.Stop(context.Background())
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("no run at Start")
	}
}

// Stop waits for a run in progress; runs never overlap.
func TestTimerStopWaitsForARun(t *testing.T) {
	var running, overlaps atomic.Int64
	entered, release := make(chan struct{}, 1), make(chan struct{})
	tm := &Timer{Interval: time.Millisecond, Func: func(context.Context) error {
		if running.Add(1) > 1 {
			overlaps.Add(1)
		}
		defer running.Add(-1)
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
		return nil
	}}
	if err := tm.Start(context.Background(), &Env{}); err != nil {
		t.Fatal(err)
	}
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- tm.Stop(context.Background()) }()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while the run was in progress", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Stop: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not return after the run ended")
	}
	if overlaps.Load() != 0 {
		t.Errorf("%d overlapping runs", overlaps.Load())
	}
}

// A run that outlasts Stop's ctx has its context cancelled.
func TestTimerForcedStopCancelsTheRun(t *testing.T) {
	entered, cancelled := make(chan struct{}), make(chan struct{})
	tm := &Timer{Interval: time.Hour, Func: func(ctx context.Context) error {
		close(entered)
		<-ctx.Done()
		close(cancelled)
		return ctx.Err()
	}}
	if err := tm.Start(context.Background(), &Env{}); err != nil {
		t.Fatal(err)
	}
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := tm.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop: %v, want the deadline", err)
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the run's context was not cancelled")
	}
}

// Errors and panics are logged; the timer goes on.
func TestTimerLogsFailuresAndGoesOn(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	var runs atomic.Int64
	tm := &Timer{Interval: time.Millisecond, Func: func(context.Context) error {
		switch runs.Add(1) {
		case 1:
			return errors.New("boom")
		case 2:
			panic("bang")
		}
		return nil
	}}
	if err := tm.Start(context.Background(), &Env{Logger: zap.New(core)}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a third run", func() bool { return runs.Load() >= 3 })
	if err := tm.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := logs.FilterMessage("timer function failed").FilterField(zap.Error(errors.New("boom"))).Len(); n != 1 {
		t.Errorf("%d failure lines, want 1: %v", n, logs.All())
	}
	if n := logs.FilterMessage("timer function panicked").Len(); n != 1 {
		t.Errorf("%d panic lines, want 1", n)
	}
}

func TestTimerMisconfigured(t *testing.T) {
	f := func(context.Context) error { return nil }
	for _, tm := range []*Timer{{Func: f}, {Interval: -time.Second, Func: f}, {Interval: time.Second}} {
		if err := tm.Start(context.Background(), &Env{}); err == nil {
			t.Errorf("Start(%+v) succeeded", tm)
		}
	}
	tm := &Timer{Interval: time.Hour, Func: f}
	if err := tm.Stop(context.Background()); err != nil {
		t.Errorf("Stop before Start: %v", err)
	}
	if err := tm.Start(context.Background(), &Env{}); err != nil {
		t.Fatal(err)
	}
	if err := tm.Start(context.Background(), &Env{}); err == nil {
		t.Error("a second Start succeeded")
	}
	_ = tm.Stop(context.Background())
	if err := tm.Stop(context.Background()); err != nil {
		t.Errorf("a second Stop: %v", err)
	}
}
