package conch

import (
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func newKey(t testing.TB) (ssh.PublicKey, string) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

var peer = &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 40000}

func TestMatchKeyOptions(t *testing.T) {
	k, line := newKey(t)
	_, other := newKey(t)
	cases := []struct {
		file    string
		ok      bool
		want    grant
		skipped string
	}{
		{line + " me@host\n", true, grant{}, ""},
		{other + "\n", false, grant{}, ""},
		{"# nothing\n\n" + other + "\n" + line + "\n", true, grant{}, ""},
		{`command="echo \"hi\"",no-pty ` + line, true, grant{command: `echo "hi"`, noPTY: true}, ""},
		{`restrict,pty ` + line, true, grant{noPTY: false, noForwarding: true}, ""},
		{`no-port-forwarding,no-agent-forwarding,no-X11-forwarding ` + line, true, grant{noForwarding: true}, ""},
		{`from="192.0.2.0/24" ` + line, true, grant{}, ""},
		{`from="192.0.2.*,!192.0.2.7" ` + line, false, grant{}, "does not admit"},
		{`from="10.0.0.0/8" ` + line, false, grant{}, "does not admit"},
		{`permitopen="host:80" ` + line, false, grant{}, `"permitopen" is not supported`},
		{`cert-authority ` + line, false, grant{}, `"cert-authority" is not supported`},
		// A later plain line for the same key still grants.
		{`cert-authority ` + line + "\n" + line, true, grant{}, "cert-authority"},
	}
	for _, c := range cases {
		g, ok, skipped := matchKey([]byte(c.file), k, peer)
		if ok != c.ok || g != c.want || (c.skipped == "") != (len(skipped) == 0) ||
			c.skipped != "" && !strings.Contains(strings.Join(skipped, ";"), c.skipped) {
			t.Errorf("%.60q: %+v %v %q; want %+v %v %q", c.file, g, ok, skipped, c.want, c.ok, c.skipped)
		}
	}
}

func FuzzMatchKey(f *testing.F) {
	k, line := newKey(f)
	f.Add(`command="x",from="1.2.3.4,!5.6.7.8" ` + line)
	f.Add("restrict " + line + "\n# x\n")
	f.Fuzz(func(t *testing.T, s string) {
		g, ok, _ := matchKey([]byte(s), k, peer)
		if !ok && g != (grant{}) {
			t.Fatalf("no match but a grant %+v", g)
		}
	})
}

func TestExpandKeysPath(t *testing.T) {
	a := &account{Name: "alice", Home: "/home/alice/"}
	for in, want := range map[string]string{
		UserKeysFile:       "/home/alice/.ssh/authorized_keys",
		"/etc/ssh/keys/%u": "/etc/ssh/keys/alice",
		"/k/100%%/%u%":     "/k/100%/alice%",
		"/k/%x":            "/k/%x",
	} {
		if got := expandKeysPath(in, a); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestParseAuth(t *testing.T) {
	if a, err := ParseAuth("authorized_keys", "/d"); err != nil || a.Path != UserKeysFile {
		t.Fatalf("authorized_keys: %+v %v", a, err)
	}
	if a, err := ParseAuth("authorized_keys:keys", "/d"); err != nil || a.Path != "/d/keys" {
		t.Fatalf("authorized_keys:keys: %+v %v", a, err)
	}
	if a, err := ParseAuth("authorized_keys:%h/.ssh/other", "/d"); err != nil || a.Path != "%h/.ssh/other" {
		t.Fatalf("%%h: %+v %v", a, err)
	}
	for _, bad := range []string{"file:", "file:/no/such/file", "unix", "", "file:/"} {
		if _, err := ParseAuth(bad, "/d"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPasswdEntry(t *testing.T) {
	in := "root:x:0:0:root:/root:/bin/bash\nbad:x:no:0::/:/bin/sh\nalice:x:1000:1001:A:/home/alice:/bin/zsh\n"
	a, ok := passwdEntry(strings.NewReader(in), "alice")
	if !ok || a.UID != 1000 || a.GID != 1001 || a.Home != "/home/alice" || a.Shell != "/bin/zsh" {
		t.Fatalf("alice: %+v %v", a, ok)
	}
	if _, ok := passwdEntry(strings.NewReader(in), "bad"); ok {
		t.Fatal("a bad uid accepted")
	}
	if _, ok := passwdEntry(strings.NewReader(in), "bob"); ok {
		t.Fatal("bob found")
	}
	if _, err := lookupAccount("a:b"); err == nil {
		t.Fatal("a name with a colon accepted")
	}
}

func TestFailuresLimitPerPeer(t *testing.T) {
	now := time.Unix(1000, 0)
	f := newFailuresAt(3, time.Minute, func() time.Time { return now })
	other := &net.TCPAddr{IP: net.ParseIP("192.0.2.8"), Port: 1}
	for range 3 {
		if f.blocked(peer) {
			t.Fatal("blocked too soon")
		}
		f.fail(peer)
	}
	if !f.blocked(peer) || f.blocked(other) {
		t.Fatal("after 3 failures: want the peer blocked, the other not")
	}
	now = now.Add(20 * time.Second) // one failure's worth refilled
	if f.blocked(peer) {
		t.Fatal("still blocked after the refill")
	}
	// The table stays bounded under a flood of peers.
	for i := range 3 * maxPeers {
		f.fail(&net.TCPAddr{IP: net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)), Port: 1})
	}
	if n := f.b.Len(); n > maxPeers {
		t.Fatalf("%d peers remembered, bound %d", n, maxPeers)
	}
	if newFailures(0, 0).blocked(peer) {
		t.Fatal("a zero rate blocks")
	}
}

func TestCleanTermAndSignals(t *testing.T) {
	for in, want := range map[string]string{"xterm-256color": "xterm-256color", "": "dumb", "x;rm -rf": "dumb", strings.Repeat("a", 65): "dumb"} {
		if got := cleanTerm(in); got != want {
			t.Errorf("cleanTerm(%q) = %q", in, got)
		}
	}
	for name, sig := range signals {
		if signalName(sig) != name {
			t.Errorf("signalName(%v) = %q, want %q", sig, signalName(sig), name)
		}
	}
}
