package test

import (
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The sd_notify sequence, read from a real unixgram socket as systemd would.
func TestSystemdNotifySequence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify.sock")
	pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	msgs := make(chan string, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := pc.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	next := func(want string) string {
		t.Helper()
		select {
		case m := <-msgs:
			if !strings.Contains(m, want) {
				t.Fatalf("notify message %q, want %q", m, want)
			}
			return m
		case <-time.After(10 * time.Second):
			t.Fatalf("no notify message %q", want)
		}
		return ""
	}
	app := writeFile(t, dir, "app.yaml", "services:\n  - {type: echo, listen: 'tcp:0:interface=127.0.0.1'}\n")
	s := start(t, dir, []string{"NOTIFY_SOCKET=" + sock}, "-n", "--pidfile=", "-c", app)
	next("READY=1")
	s.signal(syscall.SIGHUP)
	if m := next("RELOADING=1"); !strings.Contains(m, "MONOTONIC_USEC=") {
		t.Fatalf("RELOADING without MONOTONIC_USEC: %q", m)
	}
	next("READY=1")
	s.signal(syscall.SIGTERM)
	next("STOPPING=1")
	s.wait(10 * time.Second)
}
