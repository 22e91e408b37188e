package test

import (
	"testing"
	"time"
)

func TestProbeBreak(t *testing.T) {
	dir := t.TempDir()
	app := writeFile(t, dir, "app.yaml", `
services:
  - name: echo
    type: echo
    listen: tcp:0:interface=127.0.0.1
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	addr := s.addrs()[0]
	echoRoundTrip(t, addr, []byte("hi"))
	breakSocket(t, s.cmd.Process.Pid, "tcp", addr)
	time.Sleep(time.Second)
	t.Log(s.output())
}
