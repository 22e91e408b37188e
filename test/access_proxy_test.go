package test

import (
	"net"
	"testing"
	"time"
)

// haproxy: with trusted=: only the balancer's address may send a PROXY
// header, and allow:/deny: judge the client the header names, not the
// balancer.
func TestAccessHAProxyTrusted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := writeFile(t, dir, "app.yaml", `
admin: {listen: 'tcp:0:interface=127.0.0.1'}
services:
  - type: echo
    listen: haproxy:tcp:0:interface=127.0.0.1:trusted=127.0.0.1/32,10.0.0.0/8
    allow: [192.0.2.0/24]
    deny: [192.0.2.66]
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "--log-level", "debug", "-c", app)
	a := s.addrs()
	admin, addr := a[0], a[1]

	// From the trusted balancer: the header's client is judged.
	served := dialFrom(t, allowedSource, addr)
	served.Write([]byte("PROXY TCP4 192.0.2.10 10.0.0.1 40000 7\r\n"))
	echoOn(t, served, "from 192.0.2.10")
	v2 := dialFrom(t, allowedSource, addr)
	v2.Write(proxyV2Header(net.ParseIP("192.0.2.11"), 41000))
	echoOn(t, v2, "from 192.0.2.11 over v2")
	deniedClient := dialFrom(t, allowedSource, addr)
	deniedClient.Write([]byte("PROXY TCP4 192.0.2.66 10.0.0.1 40001 7\r\n"))
	refusedSilently(t, deniedClient, "hello")
	outside := dialFrom(t, allowedSource, addr)
	outside.Write(proxyV2Header(net.ParseIP("198.51.100.1"), 41001))
	refusedSilently(t, outside, "hello")

	// From anywhere else: a header that would forge an allowed address is
	// refused, and nothing is read or written.
	forged := dialFrom(t, deniedSource, addr)
	forged.Write([]byte("PROXY TCP4 192.0.2.10 10.0.0.1 40002 7\r\n"))
	refusedSilently(t, forged, "hello")

	s.waitFor(`PROXY header from an untrusted peer.*127\.0\.0\.2`, 5*time.Second)
	metricsHas(t, admin, `twistd_connections_refused_total{reason="trusted",service="echo"} 1`)
	metricsHas(t, admin, `twistd_connections_refused_total{reason="deny",service="echo"} 1`)
	metricsHas(t, admin, `twistd_connections_refused_total{reason="allow",service="echo"} 1`)
}
