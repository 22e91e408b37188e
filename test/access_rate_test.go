package test

import (
	"testing"
	"time"
)

// max_connection_rate_per_peer: a peer's connections beyond the rate are
// closed at once; other peers keep their own allowance.
func TestAccessRatePerPeer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := writeFile(t, dir, "app.yaml", `
admin: {listen: 'tcp:0:interface=127.0.0.1'}
services:
  - type: echo
    listen: tcp:0:interface=127.0.0.1
    policies: {max_connection_rate_per_peer: 3/m}
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "--log-level", "debug", "-c", app)
	a := s.addrs()
	admin, addr := a[0], a[1]
	// A minute's allowance of three, refilled one every 20 s: the fourth
	// connection of this test is always over the rate.
	for i := 0; i < 3; i++ {
		c := dialFrom(t, allowedSource, addr)
		echoOn(t, c, "within the rate")
		c.Close()
	}
	refusedSilently(t, dialFrom(t, allowedSource, addr), "over the rate")
	echoOn(t, dialFrom(t, deniedSource, addr), "another peer")
	s.waitFor(`connection refused.*max_connection_rate_per_peer.*127\.0\.0\.1`, 5*time.Second)
	metricsHas(t, admin, `twistd_connections_refused_total{reason="max_connection_rate_per_peer",service="echo"} 1`)
}
