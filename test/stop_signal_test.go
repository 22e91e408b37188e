package test

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bigZone writes a zone of n A records and returns its file name.
func bigZone(t *testing.T, dir string, n, serial int) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN big.test.\n$TTL 300\n@ IN SOA ns hostmaster %d 3600 600 86400 60\n@ IN NS ns\nns IN A 127.0.0.1\n", serial)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "h%d IN A 10.%d.%d.%d\n", i, i>>16&255, i>>8&255, i&255)
	}
	writeFile(t, dir, "big.zone", b.String())
	return "big.zone"
}

// Four SIGHUPs queued behind a slow reload, then a SIGTERM: the stop is
// never lost. The reloads coalesce (at most one more runs after the one in
// progress) and the TERM wins over them: the process drains and exits 0.
func TestStopSignalIsNeverLostBehindReloads(t *testing.T) {
	dir := t.TempDir()
	zone := bigZone(t, dir, 200000, 1)
	app := writeFile(t, dir, "app.yaml", `
services:
  - name: dns
    type: dns
    listen: udp:0:interface=127.0.0.1
    zones: [./`+zone+`]
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	bigZone(t, dir, 200000, 2) // the reload re-reads the whole zone
	s.signal(syscall.SIGHUP)
	s.waitFor(`received signal.*SIGHUP`, 10*time.Second)
	// Apart, so each reaches the process on its own rather than merged
	// into one pending signal by the kernel.
	for i := 0; i < 4; i++ {
		time.Sleep(20 * time.Millisecond)
		s.signal(syscall.SIGHUP)
	}
	time.Sleep(20 * time.Millisecond)
	s.signal(syscall.SIGTERM)
	if code := s.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0 after a drain", code)
	}
	out := s.output()
	if !strings.Contains(out, "shutdown complete") {
		t.Fatalf("no drain:\n%s", out)
	}
	if n := strings.Count(out, "reload succeeded"); n > 2 {
		t.Fatalf("%d reloads ran: queued SIGHUPs did not coalesce, or the TERM waited behind them", n)
	}
}
