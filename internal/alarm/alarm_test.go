package alarm

import (
	"sync"
	"testing"
	"time"
)

func TestAlarmWakesAtTheNearestDeadline(t *testing.T) {
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	var a Alarm
	a.Init(cond)
	mu.Lock()
	defer mu.Unlock()
	start := time.Now()
	a.SetLocked(time.Time{}, start.Add(time.Hour), start.Add(50*time.Millisecond))
	cond.Wait() // SetLocked's own broadcast came before Wait: this is the timer's
	if waited := time.Since(start); waited < 40*time.Millisecond || waited > 5*time.Second {
		t.Fatalf("woken after %v, want about 50ms", waited)
	}
}

func TestAlarmWithNoDeadlineNeverWakes(t *testing.T) {
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	var a Alarm
	a.Init(cond)
	mu.Lock()
	a.SetLocked(time.Now().Add(30 * time.Millisecond))
	a.SetLocked(time.Time{}, time.Time{}) // cleared
	mu.Unlock()
	woke := make(chan struct{})
	go func() {
		mu.Lock()
		cond.Wait()
		mu.Unlock()
		close(woke)
	}()
	select {
	case <-woke:
		t.Fatal("woken with no deadline set")
	case <-time.After(150 * time.Millisecond):
	}
	mu.Lock()
	cond.Broadcast()
	mu.Unlock()
	<-woke
}
