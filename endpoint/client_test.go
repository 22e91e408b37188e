package endpoint

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"
)

// clientTests are strings ParseClient accepts, the endpoint each means
// and its canonical String.
var clientTests = []struct {
	name string
	in   string
	want Client
	str  string // canonical form; "" means the same as in
}{
	// tcp
	{name: "tcp keywords", in: "tcp:host=example.com:port=80", want: Client{Kind: TCP, Host: "example.com", Port: 80}},
	{name: "tcp bare host and port", in: "tcp:example.com:80", want: Client{Kind: TCP, Host: "example.com", Port: 80}, str: "tcp:host=example.com:port=80"},
	{name: "tcp bare port after host keyword", in: "tcp:host=db:5432", want: Client{Kind: TCP, Host: "db", Port: 5432}, str: "tcp:host=db:port=5432"},
	{name: "tcp bare host after port keyword", in: "tcp:port=5432:db", want: Client{Kind: TCP, Host: "db", Port: 5432}, str: "tcp:host=db:port=5432"},
	{name: "tcp reordered", in: "tcp:port=80:host=127.0.0.1", want: Client{Kind: TCP, Host: "127.0.0.1", Port: 80}, str: "tcp:host=127.0.0.1:port=80"},
	{name: "tcp single-label host", in: "tcp:host=localhost:port=1", want: Client{Kind: TCP, Host: "localhost", Port: 1}},
	{name: "tcp host lower-cased", in: "tcp:host=DB.Example.COM:port=1", want: Client{Kind: TCP, Host: "db.example.com", Port: 1}, str: "tcp:host=db.example.com:port=1"},
	{name: "tcp ipv6 escaped", in: `tcp:host=\:\:1:port=80`, want: Client{Kind: TCP, Host: "::1", Port: 80}},
	{name: "tcp ipv6 bracketed", in: `tcp:host=[\:\:1]:port=80`, want: Client{Kind: TCP, Host: "::1", Port: 80}, str: `tcp:host=\:\:1:port=80`},
	{name: "tcp ipv6 canonical", in: `tcp:host=0\:0\:\:0001:port=80`, want: Client{Kind: TCP, Host: "::1", Port: 80}, str: `tcp:host=\:\:1:port=80`},
	{name: "tcp timeout", in: "tcp:host=h.example:port=80:timeout=10", want: Client{Kind: TCP, Host: "h.example", Port: 80, Timeout: 10 * time.Second}},
	{name: "tcp timeout fraction", in: "tcp:host=h.example:port=80:timeout=2.5", want: Client{Kind: TCP, Host: "h.example", Port: 80, Timeout: 2500 * time.Millisecond}},
	{name: "tcp timeout milliseconds", in: "tcp:host=h.example:port=80:timeout=0.001", want: Client{Kind: TCP, Host: "h.example", Port: 80, Timeout: time.Millisecond}},
	{name: "tcp timeout trailing zeros", in: "tcp:host=h.example:port=80:timeout=03.500", want: Client{Kind: TCP, Host: "h.example", Port: 80, Timeout: 3500 * time.Millisecond}, str: "tcp:host=h.example:port=80:timeout=3.5"},
	{name: "tcp timeout a day", in: "tcp:host=h.example:port=80:timeout=86400", want: Client{Kind: TCP, Host: "h.example", Port: 80, Timeout: 24 * time.Hour}},
	{name: "tcp bindAddress", in: "tcp:host=10.0.0.2:port=80:bindAddress=10.0.0.1", want: Client{Kind: TCP, Host: "10.0.0.2", Port: 80, BindAddress: "10.0.0.1"}},
	{name: "tcp bindAddress ipv6", in: `tcp:host=\:\:1:port=80:bindAddress=[\:\:1]`, want: Client{Kind: TCP, Host: "::1", Port: 80, BindAddress: "::1"}, str: `tcp:host=\:\:1:port=80:bindAddress=\:\:1`},
	{name: "tcp everything", in: "tcp:bindAddress=127.0.0.1:timeout=1:port=65535:host=127.0.0.2", want: Client{Kind: TCP, Host: "127.0.0.2", Port: 65535, Timeout: time.Second, BindAddress: "127.0.0.1"}, str: "tcp:host=127.0.0.2:port=65535:timeout=1:bindAddress=127.0.0.1"},

	// ssl
	{name: "ssl", in: "ssl:host=example.com:port=443", want: Client{Kind: SSL, Host: "example.com", Port: 443}},
	{name: "tls alias", in: "tls:example.com:443", want: Client{Kind: SSL, Host: "example.com", Port: 443}, str: "ssl:host=example.com:port=443"},
	{name: "ssl caCertsDir", in: "ssl:host=example.com:port=443:caCertsDir=/etc/ca", want: Client{Kind: SSL, Host: "example.com", Port: 443, CACertsDir: "/etc/ca"}},
	{name: "ssl certKey only", in: "ssl:host=example.com:port=443:certKey=me.pem", want: Client{Kind: SSL, Host: "example.com", Port: 443, CertKey: "me.pem", PrivateKey: "me.pem"}},
	{name: "ssl privateKey only", in: "ssl:host=example.com:port=443:privateKey=me.pem", want: Client{Kind: SSL, Host: "example.com", Port: 443, CertKey: "me.pem", PrivateKey: "me.pem"}, str: "ssl:host=example.com:port=443:certKey=me.pem"},
	{name: "ssl both keys", in: "ssl:host=example.com:port=443:privateKey=k.pem:certKey=c.pem", want: Client{Kind: SSL, Host: "example.com", Port: 443, CertKey: "c.pem", PrivateKey: "k.pem"}, str: "ssl:host=example.com:port=443:certKey=c.pem:privateKey=k.pem"},
	{name: "ssl escaped path", in: `ssl:host=a.example:port=1:caCertsDir=C\:\\ca`, want: Client{Kind: SSL, Host: "a.example", Port: 1, CACertsDir: `C:\ca`}},
	{name: "ssl everything", in: "ssl:host=a.example:port=1:timeout=5:bindAddress=127.0.0.1:caCertsDir=ca:certKey=c.pem:privateKey=k.pem", want: Client{Kind: SSL, Host: "a.example", Port: 1, Timeout: 5 * time.Second, BindAddress: "127.0.0.1", CACertsDir: "ca", CertKey: "c.pem", PrivateKey: "k.pem"}},

	// unix
	{name: "unix path", in: "unix:path=/run/app.sock", want: Client{Kind: Unix, Path: "/run/app.sock"}},
	{name: "unix bare path", in: "unix:/run/app.sock", want: Client{Kind: Unix, Path: "/run/app.sock"}, str: "unix:path=/run/app.sock"},
	{name: "unix timeout", in: "unix:path=x.sock:timeout=1.25", want: Client{Kind: Unix, Path: "x.sock", Timeout: 1250 * time.Millisecond}},
	{name: "unix abstract", in: "unix:@app", want: Client{Kind: Unix, Path: "@app"}, str: "unix:path=@app"},
	{name: "unix escaped path", in: `unix:path=/tmp/a\:b\\c\=d`, want: Client{Kind: Unix, Path: `/tmp/a:b\c=d`}},
	{name: "unix path with equals", in: "unix:path=/tmp/a=b", want: Client{Kind: Unix, Path: "/tmp/a=b"}, str: `unix:path=/tmp/a\=b`},
}

func TestParseClient(t *testing.T) {
	for _, tt := range clientTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseClient(tt.in)
			if err != nil {
				t.Fatalf("ParseClient(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseClient(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			str := tt.str
			if str == "" {
				str = tt.in
			}
			if s := got.String(); s != str {
				t.Errorf("String() = %q, want %q", s, str)
			}
			again, err := ParseClient(got.String())
			if err != nil || again != got {
				t.Errorf("ParseClient(String()) = %+v, %v; want %+v", again, err, got)
			}
		})
	}
}

// clientBadTests are strings ParseClient refuses, with what the error must say.
var clientBadTests = []struct {
	in, err string
}{
	{in: "", err: "empty"},
	{in: "tcp", err: "tcp needs host="},
	{in: "tcp:host=a.example", err: "tcp needs port="},
	{in: "tcp:port=80", err: "tcp needs host="},
	{in: "tcp:a.example:80:extra", err: `unexpected argument "extra"`},
	{in: "tcp:host=a.example:port=0", err: "port 0 cannot be connected to"},
	{in: "tcp:host=a.example:port=65536", err: `port "65536" is out of range`},
	{in: "tcp:host=a.example:port=http", err: `port "http" is not a number`},
	{in: "tcp:host=a.example:port=80:port=81", err: "port given twice"},
	{in: "tcp:host=a.example:port=80:host=b.example", err: "host given twice"},
	{in: "tcp:host=a_b:port=80", err: `host "a_b" is not an IP address or host name`},
	{in: "tcp:host=[1.2.3.4]:port=80", err: "only IPv6 addresses go in brackets"},
	{in: "tcp:host=:port=80", err: "empty value for host"},
	{in: "tcp:host=a.example:port=80:interface=127.0.0.1", err: `unknown option "interface" for a tcp client (want host, port, timeout, bindAddress)`},
	{in: "tcp:host=a.example:port=80:caCertsDir=/x", err: `unknown option "caCertsDir" for a tcp client`},
	{in: "tcp:host=a.example:port=80:timeout=0", err: `timeout "0" must be more than 0`},
	{in: "tcp:host=a.example:port=80:timeout=-1", err: `timeout "-1" is not a number of seconds`},
	{in: "tcp:host=a.example:port=80:timeout=1s", err: `timeout "1s" is not a number of seconds`},
	{in: "tcp:host=a.example:port=80:timeout=0.0001", err: "at most three decimals"},
	{in: "tcp:host=a.example:port=80:timeout=1.", err: `timeout "1." is not a number of seconds`},
	{in: "tcp:host=a.example:port=80:timeout=86401", err: "is more than 86400 seconds"},
	{in: "tcp:host=a.example:port=80:timeout=99999999999999999999", err: "is more than 86400 seconds"},
	{in: "tcp:host=a.example:port=80:bindAddress=localhost", err: `bindAddress "localhost" is not an IP address`},
	{in: "tcp:host=a.example:port=80:=x", err: "option =x has no name"},
	{in: "tcp:host=a.example:port=80:", err: "empty argument"},
	{in: `tcp:host=a.example:port=80\`, err: "lone backslash"},
	{in: "ssl:host=a.example:port=443:mode=1", err: `unknown option "mode" for a ssl client`},
	{in: "unix", err: "unix needs path="},
	{in: "unix:@", err: "abstract socket name is empty"},
	{in: "unix:a.sock:b.sock", err: `unexpected argument "b.sock"`},
	{in: "unix:path=a.sock:bindAddress=127.0.0.1", err: `unknown option "bindAddress" for a unix client (want path, timeout)`},
	{in: "udp:host=a.example:port=53", err: "udp is a server endpoint type"},
	{in: "haproxy:tcp:host=a.example:port=1", err: "haproxy is a server endpoint type"},
	{in: "8080", err: `unknown type "8080"`},
	{in: "quic:host=a:port=1", err: `unknown type "quic"`},
	{in: "tcp:host=a\x00:port=1", err: "NUL byte"},
	{in: "tcp:host=\xff:port=1", err: "UTF-8"},
}

func TestParseClientErrors(t *testing.T) {
	for _, tt := range clientBadTests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseClient(tt.in)
			if err == nil {
				t.Fatalf("ParseClient(%q) = %+v, want an error", tt.in, got)
			}
			if !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseClient(%q): %v, want it to say %q", tt.in, err, tt.err)
			}
			if !strings.HasPrefix(err.Error(), "client endpoint ") {
				t.Errorf("error %q does not name the endpoint", err)
			}
		})
	}
}

func TestClientAddress(t *testing.T) {
	tests := []struct {
		in, network, address string
		timeout              time.Duration
	}{
		{in: "tcp:host=a.example:port=80", network: "tcp", address: "a.example:80", timeout: DefaultConnectTimeout},
		{in: `tcp:host=\:\:1:port=80:timeout=2`, network: "tcp", address: "[::1]:80", timeout: 2 * time.Second},
		{in: "ssl:host=127.0.0.1:port=443", network: "tcp", address: "127.0.0.1:443", timeout: DefaultConnectTimeout},
		{in: "unix:/run/x.sock", network: "unix", address: "/run/x.sock", timeout: DefaultConnectTimeout},
	}
	for _, tt := range tests {
		c, err := ParseClient(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if c.Network() != tt.network || c.Address() != tt.address || c.ConnectTimeout() != tt.timeout {
			t.Errorf("%s: Network %q Address %q ConnectTimeout %v; want %q %q %v", tt.in,
				c.Network(), c.Address(), c.ConnectTimeout(), tt.network, tt.address, tt.timeout)
		}
	}
	var zero Client
	if zero.String() != "" || zero.Network() != "" || zero.Address() != "" {
		t.Errorf("zero Client: %q %q %q", zero.String(), zero.Network(), zero.Address())
	}
}

func TestClientRebase(t *testing.T) {
	tests := []struct{ in, want string }{
		{in: "unix:x.sock", want: "unix:path=/srv/x.sock"},
		{in: "unix:@x", want: "unix:path=@x"},
		{in: "unix:/abs.sock", want: "unix:path=/abs.sock"},
		{in: "ssl:a.example:1:caCertsDir=ca:certKey=c.pem:privateKey=/k.pem", want: "ssl:host=a.example:port=1:caCertsDir=/srv/ca:certKey=/srv/c.pem:privateKey=/k.pem"},
		{in: "tcp:a.example:1", want: "tcp:host=a.example:port=1"},
	}
	for _, tt := range tests {
		c, err := ParseClient(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Rebase("/srv").String(); got != tt.want {
			t.Errorf("Rebase(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzParseClient(f *testing.F) {
	for _, tt := range clientTests {
		f.Add(tt.in)
	}
	for _, tt := range clientBadTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseClient(s)
		if err != nil {
			if c != (Client{}) {
				t.Fatalf("ParseClient(%q) returned %+v with error %v", s, c, err)
			}
			return
		}
		str := c.String()
		again, err := ParseClient(str)
		if err != nil {
			t.Fatalf("ParseClient(%q) = %+v; ParseClient(String() = %q): %v", s, c, str, err)
		}
		if again != c {
			t.Fatalf("ParseClient(%q) = %+v; ParseClient(String() = %q) = %+v", s, c, str, again)
		}
		if again.String() != str {
			t.Fatalf("String not stable: %q then %q", str, again.String())
		}
		if c.Timeout < 0 || c.Timeout > maxConnectTimeout || c.ConnectTimeout() <= 0 {
			t.Fatalf("timeout %v out of bounds", c.Timeout)
		}
		_ = c.Address()
		_ = c.Rebase("/base")
	})
}

func TestClientTLSConfig(t *testing.T) {
	for _, s := range []string{"tcp:a.example:1", "unix:/x.sock"} {
		if cfg, err := mustParseClient(t, s).TLSConfig(); cfg != nil || err != nil {
			t.Errorf("%s: TLSConfig() = %v, %v; want nil, nil", s, cfg, err)
		}
	}
	cfg, err := mustParseClient(t, "ssl:host=Example.COM.:port=443").TLSConfig()
	if err != nil || cfg.ServerName != "example.com" || cfg.MinVersion != tls.VersionTLS12 || cfg.RootCAs != nil || cfg.InsecureSkipVerify {
		t.Errorf("TLSConfig() = %+v, %v; want ServerName example.com, TLS 1.2+, the system roots", cfg, err)
	}
	empty := t.TempDir()
	bad := []struct{ in, err string }{
		{in: "ssl:a.example:1:caCertsDir=/nonexistent", err: "caCertsDir /nonexistent: stat /nonexistent: no such file or directory"},
		{in: "ssl:a.example:1:caCertsDir=" + empty, err: "no *.pem file holds a certificate"},
		{in: "ssl:a.example:1:certKey=/nonexistent.pem", err: "load client key pair (certKey /nonexistent.pem, privateKey /nonexistent.pem)"},
	}
	for _, tt := range bad {
		if _, err := mustParseClient(t, tt.in).TLSConfig(); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: TLSConfig() error %v, want %q", tt.in, err, tt.err)
		}
	}
}

func mustParseClient(t *testing.T, s string) Client {
	t.Helper()
	c, err := ParseClient(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
