package policy

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestAccessCheck(t *testing.T) {
	tests := []struct {
		name        string
		allow, deny []string
		peer        net.Addr
		want        string
	}{
		{name: "no rules", peer: tcp("192.0.2.1"), want: ""},
		{name: "denied", deny: []string{"192.0.2.0/24"}, peer: tcp("192.0.2.1"), want: ReasonDeny},
		{name: "not denied", deny: []string{"192.0.2.0/24"}, peer: tcp("198.51.100.1"), want: ""},
		{name: "allowed", allow: []string{"192.0.2.0/24"}, peer: tcp("192.0.2.1"), want: ""},
		{name: "not allowed", allow: []string{"192.0.2.0/24"}, peer: tcp("198.51.100.1"), want: ReasonAllow},
		{name: "deny wins", allow: []string{"192.0.2.0/24"}, deny: []string{"192.0.2.1/32"}, peer: tcp("192.0.2.1"), want: ReasonDeny},
		{name: "mapped peer", allow: []string{"192.0.2.0/24"}, peer: tcp("::ffff:192.0.2.1"), want: ""},
		{name: "mapped peer denied", deny: []string{"192.0.2.0/24"}, peer: tcp("::ffff:192.0.2.1"), want: ReasonDeny},
		{name: "v6", allow: []string{"2001:db8::/32"}, peer: tcp("2001:db8::1"), want: ""},
		{name: "v4 rule, v6 peer", allow: []string{"0.0.0.0/0"}, peer: tcp("2001:db8::1"), want: ReasonAllow},
		{name: "zoned peer", deny: []string{"fe80::/10"}, peer: &net.TCPAddr{IP: net.ParseIP("fe80::1"), Zone: "eth0"}, want: ReasonDeny},
		{name: "udp peer", deny: []string{"192.0.2.1/32"}, peer: &net.UDPAddr{IP: net.ParseIP("192.0.2.1"), Port: 53}, want: ReasonDeny},
		{name: "unix peer admitted", allow: []string{"192.0.2.0/24"}, peer: &net.UnixAddr{Net: "unix"}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAccess(prefixes(tt.allow...), prefixes(tt.deny...))
			if got := a.Check(tt.peer); got != tt.want {
				t.Fatalf("Check(%v) = %q, want %q", tt.peer, got, tt.want)
			}
		})
	}
	if NewAccess(nil, nil) != nil {
		t.Error("no rules make a non-nil Access")
	}
}

func TestTrusts(t *testing.T) {
	trusted := prefixes("10.0.0.0/8")
	switch {
	case !Trusts(nil, tcp("192.0.2.1")):
		t.Error("without trusted= a peer is not trusted")
	case !Trusts(trusted, tcp("10.1.2.3")), !Trusts(trusted, tcp("::ffff:10.1.2.3")):
		t.Error("a peer in trusted= is not trusted")
	case Trusts(trusted, tcp("192.0.2.1")):
		t.Error("a peer outside trusted= is trusted")
	case !Trusts(trusted, &net.UnixAddr{Net: "unix"}):
		t.Error("a unix peer is not trusted")
	}
}

func tcp(ip string) *net.TCPAddr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 1234} }

// Every refusal is counted; at most refusalLines a second are logged, and
// the next line logged says how many were not.
func TestRefusalsDoNotFloodTheLog(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	cnt := refusalCounter{}
	r := NewRefusals(zap.New(core), cnt)
	now := time.Unix(0, 0)
	r.now = func() time.Time { return now }
	for i := 0; i < 100; i++ {
		r.Refuse(zapcore.DebugLevel, "connection refused", ReasonDeny, tcp("192.0.2.1"))
	}
	if cnt[ReasonDeny] != 100 {
		t.Fatalf("counted %d refusals, want 100", cnt[ReasonDeny])
	}
	if n := logs.Len(); n != refusalLines {
		t.Fatalf("logged %d lines, want %d", n, refusalLines)
	}
	now = now.Add(time.Second)
	r.Refuse(zapcore.InfoLevel, "PROXY header from an untrusted peer", ReasonTrusted, tcp("192.0.2.2"))
	last := logs.All()[logs.Len()-1]
	if last.ContextMap()["unlogged_refusals"] != int64(90) || last.ContextMap()["reason"] != ReasonTrusted {
		t.Fatalf("the line after the quiet ones has %v", last.ContextMap())
	}
	var nilRefusals *Refusals
	nilRefusals.Refuse(zapcore.InfoLevel, "x", ReasonDeny, tcp("192.0.2.1")) // no panic
}
