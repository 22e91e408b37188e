package exec

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/service"
)

// The monitor under the race detector: restarts, status reads, a
// successor taking a process over, and stops, all at once.
func TestMonitorRestartsAndHandsOver(t *testing.T) {
	set := settings{threshold: time.Second, killTime: 200 * time.Millisecond, minDelay: 10 * time.Millisecond, maxDelay: 40 * time.Millisecond}
	dying := process{name: "dying", path: "/bin/sh", args: []string{"sh", "-c", "exit 1"}, fingerprint: "d"}
	sleeper := process{name: "sleeper", path: "/bin/sleep", args: []string{"sleep", "30"}, fingerprint: "s"}
	env := &service.Env{Name: "pm", Logger: zap.NewNop()}
	m := newMonitor(set, []process{dying, sleeper})
	if err := m.Start(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	var pid int
	for {
		st := m.Status().(map[string]any)["processes"].([]ProcessStatus)
		if st[0].Restarts >= 3 && st[1].State == "running" {
			pid = st[1].PID
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	next := newMonitor(set, []process{sleeper})
	next.Succeed(m)
	if err := next.Start(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if err := m.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := next.Status().(map[string]any)["processes"].([]ProcessStatus)
	if len(st) != 1 || st[0].PID != pid || st[0].State != "running" {
		t.Fatalf("after the hand-over: %+v, want the sleeper (pid %d) still running", st, pid)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := next.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if st := next.Status().(map[string]any)["processes"].([]ProcessStatus); st[0].State != "stopped" {
		t.Fatalf("after stop: %+v", st)
	}
}
