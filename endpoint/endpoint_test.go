package endpoint

import (
	"slices"
	"strings"
	"testing"
)

// parseTests are strings Parse accepts, the endpoint each means and its
// canonical String.
var parseTests = []struct {
	name string
	in   string
	want Endpoint
	str  string // canonical form; "" means the same as in
}{
	// tcp
	{name: "tcp port", in: "tcp:8080", want: Endpoint{Kind: TCP, Port: 8080}},
	{name: "tcp port 0", in: "tcp:0", want: Endpoint{Kind: TCP}},
	{name: "tcp port max", in: "tcp:65535", want: Endpoint{Kind: TCP, Port: 65535}},
	{name: "tcp leading zeros", in: "tcp:0080", want: Endpoint{Kind: TCP, Port: 80}, str: "tcp:80"},
	{name: "tcp interface", in: "tcp:8080:interface=127.0.0.1", want: Endpoint{Kind: TCP, Port: 8080, Interface: "127.0.0.1"}},
	{name: "tcp all options", in: "tcp:80:interface=10.0.0.1:backlog=128:reuseport=true", want: Endpoint{Kind: TCP, Port: 80, Interface: "10.0.0.1", Backlog: 128, ReusePort: true}},
	{name: "tcp options reordered", in: "tcp:reuseport=1:backlog=5:port=80", want: Endpoint{Kind: TCP, Port: 80, Backlog: 5, ReusePort: true}, str: "tcp:80:backlog=5:reuseport=true"},
	{name: "tcp port keyword", in: `tcp:port=8080:interface=\:\:1`, want: Endpoint{Kind: TCP, Port: 8080, Interface: "::1"}, str: `tcp:8080:interface=\:\:1`},
	{name: "tcp bare port after keyword", in: "tcp:interface=127.0.0.1:80", want: Endpoint{Kind: TCP, Port: 80, Interface: "127.0.0.1"}, str: "tcp:80:interface=127.0.0.1"},
	{name: "tcp escaped ipv6", in: `tcp:80:interface=\:\:1`, want: Endpoint{Kind: TCP, Port: 80, Interface: "::1"}},
	{name: "tcp bracketed ipv6", in: `tcp:80:interface=[\:\:1]`, want: Endpoint{Kind: TCP, Port: 80, Interface: "::1"}, str: `tcp:80:interface=\:\:1`},
	{name: "tcp ipv6 canonical", in: `tcp:80:interface=0\:0\:\:0001`, want: Endpoint{Kind: TCP, Port: 80, Interface: "::1"}, str: `tcp:80:interface=\:\:1`},
	{name: "tcp ipv6 zone", in: `tcp:80:interface=fe80\:\:1%eth0`, want: Endpoint{Kind: TCP, Port: 80, Interface: "fe80::1%eth0"}},
	{name: "tcp host name", in: "tcp:80:interface=LocalHost", want: Endpoint{Kind: TCP, Port: 80, Interface: "localhost"}, str: "tcp:80:interface=localhost"},
	{name: "tcp dotted host name", in: "tcp:80:interface=web-1.example.com.", want: Endpoint{Kind: TCP, Port: 80, Interface: "web-1.example.com."}},
	{name: "tcp wildcard kept", in: "tcp:80:interface=0.0.0.0", want: Endpoint{Kind: TCP, Port: 80, Interface: "0.0.0.0"}},
	{name: "tcp backlog 0 is default", in: "tcp:80:backlog=0", want: Endpoint{Kind: TCP, Port: 80}, str: "tcp:80"},
	{name: "tcp reuseport false", in: "tcp:80:reuseport=FALSE", want: Endpoint{Kind: TCP, Port: 80}, str: "tcp:80"},
	{name: "tcp reuseport 0", in: "tcp:80:reuseport=0", want: Endpoint{Kind: TCP, Port: 80}, str: "tcp:80"},
	{name: "tcp reuseport True", in: "tcp:80:reuseport=True", want: Endpoint{Kind: TCP, Port: 80, ReusePort: true}, str: "tcp:80:reuseport=true"},
	{name: "escaped key", in: `tcp:80:inter\face=127.0.0.1`, want: Endpoint{Kind: TCP, Port: 80, Interface: "127.0.0.1"}, str: "tcp:80:interface=127.0.0.1"},

	// tcp6
	{name: "tcp6 port", in: "tcp6:80", want: Endpoint{Kind: TCP6, Port: 80}},
	{name: "tcp6 interface", in: `tcp6:80:interface=\:\:1:backlog=10:reuseport=true`, want: Endpoint{Kind: TCP6, Port: 80, Interface: "::1", Backlog: 10, ReusePort: true}},
	{name: "tcp6 unspecified is default", in: `tcp6:80:interface=\:\:`, want: Endpoint{Kind: TCP6, Port: 80}, str: "tcp6:80"},
	{name: "tcp6 host name", in: "tcp6:80:interface=localhost", want: Endpoint{Kind: TCP6, Port: 80, Interface: "localhost"}},
	{name: "tcp6 mapped ipv4", in: `tcp6:80:interface=\:\:ffff\:1.2.3.4`, want: Endpoint{Kind: TCP6, Port: 80, Interface: "::ffff:1.2.3.4"}},

	// udp
	{name: "udp port", in: "udp:53", want: Endpoint{Kind: UDP, Port: 53}},
	{name: "udp all options", in: "udp:53:interface=127.0.0.53:reuseport=true", want: Endpoint{Kind: UDP, Port: 53, Interface: "127.0.0.53", ReusePort: true}},
	{name: "udp port keyword", in: "udp:port=53", want: Endpoint{Kind: UDP, Port: 53}, str: "udp:53"},

	// unix
	{name: "unix path", in: "unix:/run/x.sock", want: Endpoint{Kind: Unix, Path: "/run/x.sock"}},
	{name: "unix all options", in: "unix:/run/x.sock:mode=0660:lockfile=1:backlog=7", want: Endpoint{Kind: Unix, Path: "/run/x.sock", Mode: 0o660, Lockfile: true, Backlog: 7}},
	{name: "unix mode short", in: "unix:x.sock:mode=660", want: Endpoint{Kind: Unix, Path: "x.sock", Mode: 0o660}, str: "unix:x.sock:mode=0660"},
	{name: "unix mode 0o", in: "unix:x.sock:mode=0o600", want: Endpoint{Kind: Unix, Path: "x.sock", Mode: 0o600}, str: "unix:x.sock:mode=0600"},
	{name: "unix mode 0 is default", in: "unix:x.sock:mode=0", want: Endpoint{Kind: Unix, Path: "x.sock"}, str: "unix:x.sock"},
	{name: "unix lockfile true", in: "unix:x.sock:lockfile=true", want: Endpoint{Kind: Unix, Path: "x.sock", Lockfile: true}, str: "unix:x.sock:lockfile=1"},
	{name: "unix lockfile false", in: "unix:x.sock:lockfile=false", want: Endpoint{Kind: Unix, Path: "x.sock"}, str: "unix:x.sock"},
	{name: "unix address keyword", in: "unix:address=/path", want: Endpoint{Kind: Unix, Path: "/path"}, str: "unix:/path"},
	{name: "unix abstract", in: "unix:@app", want: Endpoint{Kind: Unix, Path: "@app"}},
	{name: "unix escaped path", in: `unix:/tmp/a\:b\\c\=d`, want: Endpoint{Kind: Unix, Path: `/tmp/a:b\c=d`}},
	{name: "unix keyword value with equals", in: "unix:address=/tmp/a=b", want: Endpoint{Kind: Unix, Path: "/tmp/a=b"}, str: `unix:/tmp/a\=b`},
	{name: "unix numeric path", in: "unix:8080", want: Endpoint{Kind: Unix, Path: "8080"}},

	// ssl
	{name: "ssl key", in: "ssl:443:privateKey=k.pem", want: Endpoint{Kind: SSL, Port: 443, PrivateKey: "k.pem", CertKey: "k.pem"}},
	{name: "ssl cert", in: "ssl:8443:privateKey=k.pem:certKey=c.pem", want: Endpoint{Kind: SSL, Port: 8443, PrivateKey: "k.pem", CertKey: "c.pem"}},
	{name: "ssl same cert", in: "ssl:8443:privateKey=k.pem:certKey=k.pem", want: Endpoint{Kind: SSL, Port: 8443, PrivateKey: "k.pem", CertKey: "k.pem"}, str: "ssl:8443:privateKey=k.pem"},
	{name: "ssl all options", in: "ssl:443:privateKey=/etc/k.pem:certKey=/etc/c.pem:interface=127.0.0.1:backlog=50:reuseport=true", want: Endpoint{Kind: SSL, Port: 443, PrivateKey: "/etc/k.pem", CertKey: "/etc/c.pem", Interface: "127.0.0.1", Backlog: 50, ReusePort: true}},
	{name: "ssl keywords only", in: "ssl:certKey=c.pem:port=443:privateKey=k.pem", want: Endpoint{Kind: SSL, Port: 443, PrivateKey: "k.pem", CertKey: "c.pem"}, str: "ssl:443:privateKey=k.pem:certKey=c.pem"},
	{name: "ssl escaped key path", in: `ssl:443:privateKey=C\:\\k.pem`, want: Endpoint{Kind: SSL, Port: 443, PrivateKey: `C:\k.pem`, CertKey: `C:\k.pem`}},
	{name: "tls alias", in: "tls:443:privateKey=k.pem", want: Endpoint{Kind: SSL, Port: 443, PrivateKey: "k.pem", CertKey: "k.pem"}, str: "ssl:443:privateKey=k.pem"},

	// systemd
	{name: "systemd index", in: "systemd:domain=INET:index=0", want: Endpoint{Kind: Systemd, SystemdDomain: "INET"}},
	{name: "systemd inet6", in: "systemd:domain=inet6:index=3", want: Endpoint{Kind: Systemd, SystemdDomain: "INET6", SystemdIndex: 3}, str: "systemd:domain=INET6:index=3"},
	{name: "systemd unix reordered", in: "systemd:index=1:domain=Unix", want: Endpoint{Kind: Systemd, SystemdDomain: "UNIX", SystemdIndex: 1}, str: "systemd:domain=UNIX:index=1"},
	{name: "systemd name", in: "systemd:name=web", want: Endpoint{Kind: Systemd, SystemdName: "web"}},
	{name: "systemd name with equals", in: "systemd:name=a=b", want: Endpoint{Kind: Systemd, SystemdName: "a=b"}, str: `systemd:name=a\=b`},

	// haproxy
	{name: "haproxy tcp", in: "haproxy:tcp:80", want: Endpoint{Kind: TCP, Port: 80, HAProxy: true}},
	{name: "haproxy tcp options", in: "haproxy:tcp:80:interface=127.0.0.1", want: Endpoint{Kind: TCP, Port: 80, Interface: "127.0.0.1", HAProxy: true}},
	{name: "haproxy ssl", in: "haproxy:ssl:443:privateKey=k.pem", want: Endpoint{Kind: SSL, Port: 443, PrivateKey: "k.pem", CertKey: "k.pem", HAProxy: true}},
	{name: "haproxy unix", in: "haproxy:unix:/run/x.sock:mode=0600", want: Endpoint{Kind: Unix, Path: "/run/x.sock", Mode: 0o600, HAProxy: true}},
	{name: "haproxy tcp6", in: "haproxy:tcp6:80", want: Endpoint{Kind: TCP6, Port: 80, HAProxy: true}},
	{name: "haproxy systemd", in: "haproxy:systemd:name=web", want: Endpoint{Kind: Systemd, SystemdName: "web", HAProxy: true}},
	{name: "haproxy shorthand", in: "haproxy:8080", want: Endpoint{Kind: TCP, Port: 8080, HAProxy: true}, str: "haproxy:tcp:8080"},
	{name: "haproxy trusted", in: "haproxy:tcp:80:trusted=10.0.0.0/8", want: Endpoint{Kind: TCP, Port: 80, HAProxy: true, Trusted: "10.0.0.0/8"}},
	{name: "haproxy trusted list", in: "haproxy:tcp:80:trusted=10.0.0.0/8,192.0.2.1,\\:\\:1:interface=127.0.0.1",
		want: Endpoint{Kind: TCP, Port: 80, Interface: "127.0.0.1", HAProxy: true, Trusted: "10.0.0.0/8,192.0.2.1/32,::1/128"},
		str:  "haproxy:tcp:80:interface=127.0.0.1:trusted=10.0.0.0/8,192.0.2.1/32,\\:\\:1/128"},
	{name: "haproxy trusted first", in: "haproxy:trusted=192.0.2.0/24:unix:/run/x.sock",
		want: Endpoint{Kind: Unix, Path: "/run/x.sock", HAProxy: true, Trusted: "192.0.2.0/24"}, str: "haproxy:unix:/run/x.sock:trusted=192.0.2.0/24"},
	{name: "haproxy trusted mapped", in: "haproxy:8080:trusted=\\:\\:ffff\\:10.0.0.0/104,10.0.0.0/8",
		want: Endpoint{Kind: TCP, Port: 8080, HAProxy: true, Trusted: "10.0.0.0/8"}, str: "haproxy:tcp:8080:trusted=10.0.0.0/8"},

	// shorthands
	{name: "bare port", in: "8080", want: Endpoint{Kind: TCP, Port: 8080}, str: "tcp:8080"},
	{name: "colon port", in: ":8080", want: Endpoint{Kind: TCP, Port: 8080}, str: "tcp:8080"},
	{name: "ipv4 port", in: "127.0.0.1:8080", want: Endpoint{Kind: TCP, Port: 8080, Interface: "127.0.0.1"}, str: "tcp:8080:interface=127.0.0.1"},
	{name: "ipv6 port", in: "[::1]:8080", want: Endpoint{Kind: TCP, Port: 8080, Interface: "::1"}, str: `tcp:8080:interface=\:\:1`},
	{name: "ipv6 zone port", in: "[fe80::1%eth0]:80", want: Endpoint{Kind: TCP, Port: 80, Interface: "fe80::1%eth0"}, str: `tcp:80:interface=fe80\:\:1%eth0`},
	{name: "localhost port", in: "localhost:8080", want: Endpoint{Kind: TCP, Port: 8080, Interface: "localhost"}, str: "tcp:8080:interface=localhost"},
	{name: "host name port", in: "www.example.com:443", want: Endpoint{Kind: TCP, Port: 443, Interface: "www.example.com"}, str: "tcp:443:interface=www.example.com"},
	{name: "port 0 shorthand", in: "0", want: Endpoint{Kind: TCP}, str: "tcp:0"},
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("Parse(%q)\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
			wantStr := tt.str
			if wantStr == "" {
				wantStr = tt.in
			}
			if s := got.String(); s != wantStr {
				t.Errorf("String() = %q, want %q", s, wantStr)
			}
			again, err := Parse(got.String())
			if err != nil {
				t.Fatalf("Parse(String()) = %v", err)
			}
			if again != got {
				t.Errorf("Parse(String()) = %+v, want %+v", again, got)
			}
		})
	}
}

// badTests are strings Parse rejects, with a substring of the error.
var badTests = []struct {
	name string
	in   string
	err  string
}{
	{name: "empty", in: "", err: `endpoint "": empty`},
	{name: "nul", in: "tcp:80\x00", err: "NUL"},
	{name: "invalid utf8", in: "unix:/tmp/\xff", err: "UTF-8"},
	{name: "unknown type", in: "quic:1", err: `endpoint "quic:1": unknown type "quic"`},
	{name: "unknown bare word", in: "foo", err: `unknown type "foo"`},
	{name: "type case", in: "TCP:80", err: `unknown type "TCP"`},
	{name: "keyed type", in: "tcp=1:80", err: "unknown type"},
	{name: "lone backslash", in: `tcp:80:interface=a\`, err: "lone backslash"},
	{name: "lone backslash in type", in: `tcp\`, err: "lone backslash"},

	// ports
	{name: "port not a number", in: "tcp:x", err: `endpoint "tcp:x": port "x" is not a number`},
	{name: "port negative", in: "tcp:-1", err: `port "-1" is not a number`},
	{name: "port plus", in: "tcp:+80", err: `port "+80" is not a number`},
	{name: "port too large", in: "tcp:65536", err: `port "65536" is out of range 0-65535`},
	{name: "port huge", in: "tcp:99999999999999999999999", err: "out of range"},
	{name: "port missing", in: "tcp", err: "tcp needs a port"},
	{name: "port empty argument", in: "tcp:", err: "empty argument"},
	{name: "port keyword empty", in: "tcp:port=", err: "empty value for port"},
	{name: "port twice", in: "tcp:80:port=81", err: "port given twice"},
	{name: "second bare argument", in: "tcp:80:127.0.0.1", err: `unexpected argument "127.0.0.1" for tcp`},
	{name: "udp no port", in: "udp:interface=127.0.0.1", err: "udp needs a port"},

	// options
	{name: "unknown option", in: "tcp:80:foo=1", err: `endpoint "tcp:80:foo=1": unknown option "foo" for tcp`},
	{name: "option case", in: "ssl:443:privatekey=k.pem", err: `unknown option "privatekey" for ssl`},
	{name: "duplicate option", in: "tcp:80:backlog=1:backlog=2", err: "backlog given twice"},
	{name: "empty value", in: "tcp:80:interface=", err: "empty value for interface"},
	{name: "empty key", in: "tcp:80:=x", err: "has no name"},
	{name: "empty middle field", in: "tcp:80::backlog=1", err: "empty argument"},
	{name: "trailing colon", in: "tcp:80:", err: "empty argument"},
	{name: "backlog not a number", in: "tcp:80:backlog=x", err: `backlog "x" is not a number`},
	{name: "backlog negative", in: "tcp:80:backlog=-1", err: `backlog "-1" is not a number`},
	{name: "backlog too large", in: "tcp:80:backlog=99999999999", err: `backlog "99999999999" is too large`},
	{name: "reuseport not bool", in: "tcp:80:reuseport=yes", err: `reuseport "yes" is not a boolean`},
	{name: "udp backlog", in: "udp:53:backlog=5", err: `unknown option "backlog" for udp`},
	{name: "tcp privateKey", in: "tcp:80:privateKey=k.pem", err: `unknown option "privateKey" for tcp`},

	// interfaces
	{name: "bad interface", in: "tcp:80:interface=not_a_host", err: `interface "not_a_host" is not an IP address or host name`},
	{name: "bad ipv4", in: "tcp:80:interface=1.2.3.256", err: "is not an IP address or host name"},
	{name: "tcp6 ipv4", in: "tcp6:80:interface=127.0.0.1", err: `tcp6 interface "127.0.0.1" is not an IPv6 address`},
	{name: "bracketed ipv4", in: "tcp:80:interface=[1.2.3.4]", err: "only IPv6 addresses go in brackets"},
	{name: "bracketed host", in: "tcp:80:interface=[localhost]", err: "is not an IP address or host name"},
	{name: "hyphen host", in: "tcp:80:interface=-a.com", err: "is not an IP address or host name"},
	{name: "long label", in: "tcp:80:interface=" + strings.Repeat("a", 64), err: "is not an IP address or host name"},
	{name: "long host", in: "tcp:80:interface=" + strings.Repeat("a.", 127) + "aa", err: "is not an IP address or host name"},

	// unix
	{name: "unix no path", in: "unix", err: "unix needs a path"},
	{name: "unix empty path", in: "unix:", err: "empty argument"},
	{name: "unix options no path", in: "unix:mode=0600", err: "unix needs a path"},
	{name: "unix empty abstract", in: "unix:@", err: "abstract socket name is empty"},
	{name: "unix mode not octal", in: "unix:x:mode=0668", err: `mode "0668" is not an octal number`},
	{name: "unix mode too large", in: "unix:x:mode=01777", err: `mode "01777" is out of range`},
	{name: "unix mode huge", in: "unix:x:mode=777777777777777777777", err: "out of range"},
	{name: "unix mode bare 0o", in: "unix:x:mode=0o", err: "not an octal number"},
	{name: "unix lockfile bad", in: "unix:x:lockfile=2", err: `lockfile "2" is not a boolean`},
	{name: "unix interface", in: "unix:x:interface=127.0.0.1", err: `unknown option "interface" for unix`},
	{name: "unix path twice", in: "unix:x:address=y", err: "address given twice"},

	// ssl
	{name: "ssl no key", in: "ssl:443", err: `endpoint "ssl:443": ssl needs privateKey=`},
	{name: "tls no key", in: "tls:443", err: "tls needs privateKey="},
	{name: "ssl no port", in: "ssl:privateKey=k.pem", err: "ssl needs a port"},
	{name: "ssl extra twisted key", in: "ssl:443:privateKey=k.pem:extraCertChain=chain.pem", err: `unknown option "extraCertChain" for ssl`},
	{name: "ssl bad port", in: "ssl:https:privateKey=k.pem", err: `port "https" is not a number`},

	// systemd
	{name: "systemd bare", in: "systemd", err: "systemd needs domain= and index="},
	{name: "systemd no index", in: "systemd:domain=INET", err: "systemd needs domain= and index="},
	{name: "systemd no domain", in: "systemd:index=0", err: "systemd needs domain= and index="},
	{name: "systemd bad domain", in: "systemd:domain=IPX:index=0", err: `systemd domain "IPX" is not INET, INET6 or UNIX`},
	{name: "systemd bad index", in: "systemd:domain=INET:index=-1", err: `index "-1" is not a number`},
	{name: "systemd name and index", in: "systemd:name=web:index=0", err: "either name= or domain="},
	{name: "systemd bad name", in: `systemd:name=a\:b`, err: "not a valid FileDescriptorName"},
	{name: "systemd positional", in: "systemd:INET", err: `unexpected argument "INET" for systemd`},
	{name: "systemd port", in: "systemd:port=80", err: `unknown option "port" for systemd`},

	// haproxy
	{name: "haproxy alone", in: "haproxy", err: "haproxy needs an endpoint"},
	{name: "haproxy empty", in: "haproxy:", err: "haproxy needs an endpoint"},
	{name: "haproxy udp", in: "haproxy:udp:53", err: "haproxy needs a stream endpoint, not udp"},
	{name: "haproxy twice", in: "haproxy:haproxy:tcp:80", err: "haproxy cannot wrap haproxy"},
	{name: "haproxy inner error", in: "haproxy:tcp:x", err: `endpoint "haproxy:tcp:x": port "x" is not a number`},
	{name: "haproxy trusted bad", in: "haproxy:tcp:80:trusted=10.0.0.300", err: `trusted=: "10.0.0.300" is not an IP address`},
	{name: "haproxy trusted host bits", in: "haproxy:tcp:80:trusted=10.1.0.0/8", err: `write 10.0.0.0/8`},
	{name: "haproxy trusted empty item", in: "haproxy:tcp:80:trusted=10.0.0.0/8,", err: "empty item"},
	{name: "haproxy trusted empty", in: "haproxy:tcp:80:trusted=", err: "empty value for trusted"},
	{name: "haproxy trusted twice", in: "haproxy:tcp:80:trusted=10.0.0.1:trusted=10.0.0.2", err: "trusted given twice"},
	{name: "trusted without haproxy", in: "tcp:80:trusted=10.0.0.1", err: "trusted= is an option of haproxy: endpoints"},

	// shorthands
	{name: "colon alone", in: ":", err: "missing port"},
	{name: "colon not a port", in: ":x", err: `port "x" is not a number`},
	{name: "shorthand too large", in: "70000", err: "out of range"},
	{name: "shorthand options", in: "8080:backlog=5", err: "a bare port takes no options"},
	{name: "ip without port", in: "127.0.0.1", err: "missing port"},
	{name: "ip empty port", in: "127.0.0.1:", err: "missing port"},
	{name: "ip bad port", in: "127.0.0.1:x", err: `port "x" is not a number`},
	{name: "ip extra colon", in: "127.0.0.1:80:90", err: `port "80:90" is not a number`},
	{name: "bare host", in: "myhost:80", err: `unknown type "myhost"`},
	{name: "ipv6 without brackets", in: "::1:80", err: `port ":1:80" is not a number`},
	{name: "bracket no port", in: "[::1]", err: "want [IPV6]:PORT"},
	{name: "bracket ipv4", in: "[127.0.0.1]:80", err: `"127.0.0.1" is not an IPv6 address`},
	{name: "bracket host", in: "[localhost]:80", err: `"localhost" is not an IPv6 address`},
	{name: "bracket bad port", in: "[::1]:x", err: `port "x" is not a number`},
}

func TestParseErrors(t *testing.T) {
	for _, tt := range badTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want error containing %q", tt.in, got, tt.err)
			}
			if !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Parse(%q) error = %q, want it to contain %q", tt.in, err, tt.err)
			}
			if !strings.HasPrefix(err.Error(), "endpoint ") {
				t.Errorf("error %q does not name the endpoint", err)
			}
			if got != (Endpoint{}) {
				t.Errorf("Parse(%q) returned %+v with its error, want the zero Endpoint", tt.in, got)
			}
		})
	}
}

func TestBind(t *testing.T) {
	tests := []struct {
		in       string
		network  string
		address  string
		isStream bool
		files    []string
	}{
		{in: "tcp:8080", network: "tcp", address: ":8080", isStream: true},
		{in: "tcp:8080:interface=127.0.0.1", network: "tcp", address: "127.0.0.1:8080", isStream: true},
		{in: `tcp:80:interface=\:\:1`, network: "tcp", address: "[::1]:80", isStream: true},
		{in: "tcp6:80", network: "tcp6", address: "[::]:80", isStream: true},
		{in: `tcp6:80:interface=\:\:1`, network: "tcp6", address: "[::1]:80", isStream: true},
		{in: "udp:53", network: "udp", address: ":53", isStream: false},
		{in: "udp:53:interface=127.0.0.1", network: "udp", address: "127.0.0.1:53", isStream: false},
		{in: "unix:/run/x.sock", network: "unix", address: "/run/x.sock", isStream: true},
		{in: "ssl:443:privateKey=k.pem", network: "tcp", address: ":443", isStream: true, files: []string{"k.pem"}},
		{in: "ssl:443:privateKey=k.pem:certKey=c.pem:interface=localhost", network: "tcp", address: "localhost:443", isStream: true, files: []string{"k.pem", "c.pem"}},
		{in: "systemd:domain=INET:index=0", network: "", address: "", isStream: true},
		{in: "systemd:name=web", network: "", address: "", isStream: true},
		{in: "haproxy:tcp:80", network: "tcp", address: ":80", isStream: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.Network(); got != tt.network {
				t.Errorf("Network() = %q, want %q", got, tt.network)
			}
			if got := e.Address(); got != tt.address {
				t.Errorf("Address() = %q, want %q", got, tt.address)
			}
			if got := e.IsStream(); got != tt.isStream {
				t.Errorf("IsStream() = %v, want %v", got, tt.isStream)
			}
			if got := e.Files(); !slices.Equal(got, tt.files) {
				t.Errorf("Files() = %q, want %q", got, tt.files)
			}
		})
	}
}

func TestRebase(t *testing.T) {
	tests := []struct {
		in   string
		dir  string
		want string
	}{
		{in: "unix:x.sock", dir: "/srv", want: "unix:/srv/x.sock"},
		{in: "unix:run/../x.sock:mode=0600", dir: "/srv", want: "unix:/srv/x.sock:mode=0600"},
		{in: "unix:/run/x.sock", dir: "/srv", want: "unix:/run/x.sock"},
		{in: "unix:@abstract", dir: "/srv", want: "unix:@abstract"},
		{in: "ssl:443:privateKey=k.pem", dir: "/etc/tls", want: "ssl:443:privateKey=/etc/tls/k.pem"},
		{in: "ssl:443:privateKey=k.pem:certKey=/abs/c.pem", dir: "/etc/tls", want: "ssl:443:privateKey=/etc/tls/k.pem:certKey=/abs/c.pem"},
		{in: "ssl:443:privateKey=/abs/k.pem:certKey=c.pem", dir: "/etc/tls", want: "ssl:443:privateKey=/abs/k.pem:certKey=/etc/tls/c.pem"},
		{in: "haproxy:ssl:443:privateKey=k.pem", dir: "/etc/tls", want: "haproxy:ssl:443:privateKey=/etc/tls/k.pem"},
		{in: "tcp:80", dir: "/srv", want: "tcp:80"},
		{in: "systemd:name=x", dir: "/srv", want: "systemd:name=x"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			got := e.Rebase(tt.dir)
			want, err := Parse(tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("Rebase(%q) = %+v, want %+v", tt.dir, got, want)
			}
			if got.String() != tt.want {
				t.Errorf("Rebase(%q).String() = %q, want %q", tt.dir, got.String(), tt.want)
			}
		})
	}
}

func TestZeroEndpoint(t *testing.T) {
	var e Endpoint
	if s := e.String(); s != "" {
		t.Errorf("String() = %q, want \"\"", s)
	}
	if n := e.Network(); n != "" {
		t.Errorf("Network() = %q, want \"\"", n)
	}
	if a := e.Address(); a != "" {
		t.Errorf("Address() = %q, want \"\"", a)
	}
	if f := e.Files(); f != nil {
		t.Errorf("Files() = %q, want nil", f)
	}
}

func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(tt.in)
	}
	for _, tt := range badTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			if e != (Endpoint{}) {
				t.Fatalf("Parse(%q) returned %+v with error %v", s, e, err)
			}
			return
		}
		str := e.String()
		again, err := Parse(str)
		if err != nil {
			t.Fatalf("Parse(%q) = %+v; Parse(String() = %q): %v", s, e, str, err)
		}
		if again != e {
			t.Fatalf("Parse(%q) = %+v; Parse(String() = %q) = %+v", s, e, str, again)
		}
		if again.String() != str {
			t.Fatalf("String not stable: %q then %q", str, again.String())
		}
		_ = e.Network()
		_ = e.Address()
		_ = e.Files()
		_ = e.Rebase("/base")
	})
}
