package config

import (
	"testing"

	"github.com/twistd-go/twistd/endpoint"
)

func TestClash(t *testing.T) {
	tests := []struct {
		name  string
		a, b  string
		clash bool
	}{
		{name: "same tcp port", a: "tcp:8080", b: "tcp:8080", clash: true},
		{name: "same udp port", a: "udp:5353", b: "udp:5353", clash: true},
		{name: "tcp and udp share a number", a: "tcp:5353", b: "udp:5353"},
		{name: "different ports", a: "tcp:8080", b: "tcp:8081"},
		{name: "port 0 never clashes", a: "tcp:0", b: "tcp:0"},
		{name: "reuseport on both", a: "tcp:8080:reuseport=true", b: "tcp:8080:reuseport=true"},
		{name: "reuseport on one", a: "tcp:8080:reuseport=true", b: "tcp:8080", clash: true},
		{name: "udp reuseport on both", a: "udp:53:reuseport=true", b: "udp:53:reuseport=true"},
		{name: "different interfaces", a: "tcp:8080:interface=127.0.0.1", b: "tcp:8080:interface=127.0.0.2"},
		{name: "same interface", a: "tcp:8080:interface=127.0.0.1", b: "tcp:8080:interface=127.0.0.1", clash: true},
		{name: "0.0.0.0 covers 127.0.0.1", a: "tcp:8080:interface=0.0.0.0", b: "tcp:8080:interface=127.0.0.1", clash: true},
		{name: "all interfaces covers 127.0.0.1", a: "tcp:8080", b: "tcp:8080:interface=127.0.0.1", clash: true},
		{name: "all interfaces covers ::1", a: "tcp:8080", b: `tcp:8080:interface=\:\:1`, clash: true},
		{name: "ssl and tcp are both TCP", a: "ssl:8443:privateKey=k.pem", b: "tcp:8443", clash: true},
		{name: "haproxy wraps the same socket", a: "haproxy:tcp:8080", b: "tcp:8080", clash: true},
		{name: "tcp6 is IPv6 only", a: "tcp6:8080", b: "tcp:8080:interface=127.0.0.1"},
		{name: "tcp6 and a dual-stack wildcard", a: "tcp6:8080", b: "tcp:8080", clash: true},
		{name: "tcp6 covers ::1", a: "tcp6:8080", b: `tcp:8080:interface=\:\:1`, clash: true},
		{name: "same unix path", a: "unix:/run/a.sock", b: "unix:/run/a.sock", clash: true},
		{name: "other unix path", a: "unix:/run/a.sock", b: "unix:/run/b.sock"},
		{name: "systemd sockets are inherited", a: "systemd:domain=INET:index=0", b: "systemd:domain=INET:index=0"},
		{name: "same host name", a: "tcp:80:interface=localhost", b: "tcp:80:interface=localhost", clash: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := endpoint.Parse(tt.a)
			if err != nil {
				t.Fatal(err)
			}
			b, err := endpoint.Parse(tt.b)
			if err != nil {
				t.Fatal(err)
			}
			for _, pair := range [][2]endpoint.Endpoint{{a, b}, {b, a}} {
				if got := clash(pair[0], pair[1]) != ""; got != tt.clash {
					t.Errorf("clash(%s, %s) = %v, want %v", pair[0], pair[1], got, tt.clash)
				}
			}
		})
	}
}
