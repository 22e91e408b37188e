package test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// serviceAddr is the real address service name logged it listens on.
func serviceAddr(t *testing.T, s *server, name string) string {
	t.Helper()
	re := regexp.MustCompile(`\[` + regexp.QuoteMeta(name) + `\]\s+listening on (\S+)`)
	if m := re.FindStringSubmatch(s.output()); m != nil {
		return m[1]
	}
	t.Fatalf("service %s logged no listen address:\n%s", name, s.output())
	return ""
}

// socksApp runs a web service (the upstream, serving index.html) and a
// socks service beside it, loopback allowed as a destination (the web
// service is on 127.0.0.1), with an admin endpoint. extra is added to
// the socks entry. It returns the server, the socks, web and admin
// addresses and the directory.
func socksApp(t *testing.T, extra string) (s *server, socks, web, admin, dir string) {
	t.Helper()
	dir = t.TempDir()
	writeFile(t, dir, "public/index.html", "hello through socks\n")
	app := writeFile(t, dir, "app.yaml", `
admin: {listen: "tcp:0:interface=127.0.0.1"}
services:
  - name: site
    type: web
    listen: tcp:0:interface=127.0.0.1
    path: ./public
  - name: proxy
    type: socks
    listen: tcp:0:interface=127.0.0.1
    log: socks.log
`+extra)
	s = start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	return s, serviceAddr(t, s, "proxy"), serviceAddr(t, s, "site"), s.addrs()[0], dir
}

const allowLoopback = "    destinations: {allow: [127.0.0.1/32]}\n"

// curl runs curl with args; it returns its exit code and output.
func curl(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command("curl", append([]string{"-sS", "--max-time", "10"}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

func TestSocksCurlModes(t *testing.T) {
	t.Parallel()
	_, socks, web, admin, dir := socksApp(t, allowLoopback)
	_, port, _ := net.SplitHostPort(web)
	for _, mode := range []string{"--socks5-hostname", "--socks5", "--socks4", "--socks4a"} {
		code, out := curl(t, mode, socks, "http://127.0.0.1:"+port+"/")
		if code != 0 || out != "hello through socks\n" {
			t.Fatalf("curl %s: exit %d, %q", mode, code, out)
		}
	}
	// By name: localhost is resolved by us, then checked as 127.0.0.1.
	if code, out := curl(t, "--socks5-hostname", socks, "http://localhost:"+port+"/"); code != 0 || out != "hello through socks\n" {
		t.Fatalf("by name: exit %d, %q", code, out)
	}
	lines := waitLogLines(t, filepath.Join(dir, "socks.log"), 5)
	for i, want := range []string{"socks5 ", "socks5 ", "socks4 ", "socks4a ", "socks5 "} {
		l := lines[i]
		if !strings.Contains(l, " "+want) || !strings.Contains(l, "addr=127.0.0.1:"+port) || !strings.Contains(l, "reply=succeeded") ||
			!regexpMatch(`^\S+ 127\.0\.0\.1:\d+ socks\S+ user=- target=\S+ addr=\S+ reply=succeeded up=[1-9]\d* down=[1-9]\d* duration=\S+$`, l) {
			t.Errorf("log line %d: %q", i, l)
		}
	}
	if !strings.Contains(lines[4], "target=localhost:"+port) {
		t.Errorf("by-name line: %q", lines[4])
	}
	metricsHas(t, admin, `twistd_socks_requests_total{reply="succeeded",service="proxy",version="4a"} 1`)
	metricsHas(t, admin, `twistd_socks_requests_total{reply="succeeded",service="proxy",version="5"} 3`)
	metricsHas(t, admin, `twistd_connections_accepted_total{service="proxy"} 5`)
	st := statusJSON(t, "http://"+admin)
	if st["requests"] != float64(5) || st["bytes_out"].(float64) < 5*100 {
		t.Fatalf("/status row: %v", st)
	}
}

// statusJSON returns the proxy's /status row.
func statusJSON(t *testing.T, base string) map[string]any {
	t.Helper()
	_, body, _ := httpGet(t, base+"/status", "Accept", "application/json")
	var doc struct{ Services []map[string]any }
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	for _, s := range doc.Services {
		if s["name"] == "proxy" {
			return s
		}
	}
	t.Fatalf("no proxy in /status: %s", body)
	return nil
}

// waitLogLines polls file until it has at least n lines.
func waitLogLines(t *testing.T, file string, n int) []string {
	t.Helper()
	var lines []string
	eventually(t, 5*time.Second, strconv.Itoa(n)+" lines in "+file, func() bool {
		b, _ := os.ReadFile(file)
		lines = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		return len(b) > 0 && len(lines) >= n
	})
	return lines
}

func htpasswdLine(t *testing.T, user, pass string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pass), 5)
	if err != nil {
		t.Fatal(err)
	}
	return user + ":" + string(h) + "\n"
}

func TestSocksUsernamePassword(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	users := writeFile(t, dir, "users", htpasswdLine(t, "alice", "secret"))
	s, socks, web, admin, sdir := socksApp(t, allowLoopback+"    users: "+users+"\n")
	_ = dir
	url := "http://" + web + "/"
	if code, out := curl(t, "--socks5", socks, "-U", "alice:secret", url); code != 0 || out != "hello through socks\n" {
		t.Fatalf("right password: exit %d, %q", code, out)
	}
	if code, out := curl(t, "--socks5-hostname", socks, "-U", "alice:wrong", url); code != 97 {
		t.Fatalf("wrong password: exit %d, %q", code, out)
	}
	if code, out := curl(t, "--socks5", socks, url); code != 97 {
		t.Fatalf("no password: exit %d, %q", code, out)
	}
	if code, out := curl(t, "--socks4", socks, url); code != 97 {
		t.Fatalf("socks4 with users: exit %d, %q", code, out)
	}
	metricsHas(t, admin, `twistd_socks_handshake_failures_total{reason="auth_failed",service="proxy"} 1`)
	metricsHas(t, admin, `twistd_socks_handshake_failures_total{reason="no_acceptable_method",service="proxy"} 1`)
	lines := waitLogLines(t, filepath.Join(sdir, "socks.log"), 2)
	if !strings.Contains(lines[0], "user=alice ") || !strings.Contains(lines[1], "reply=not_allowed/socks4_needs_password") {
		t.Fatalf("log: %q", lines)
	}

	// A reload re-reads the users file: the new password works, the old no longer.
	writeFile(t, dir, "users", htpasswdLine(t, "alice", "changed"))
	s.signal(syscall.SIGHUP)
	s.waitFor(`reload`, 10*time.Second)
	eventually(t, 5*time.Second, "the new password to work", func() bool {
		code, _ := curl(t, "--socks5", socks, "-U", "alice:changed", url)
		return code == 0
	})
	if code, _ := curl(t, "--socks5", socks, "-U", "alice:secret", url); code != 97 {
		t.Fatalf("the old password still works after the reload: exit %d", code)
	}
}

// socksRequest sends raw bytes to the proxy and returns everything it
// answers before closing.
func socksRequest(t *testing.T, addr string, msg []byte) []byte {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if errors.Is(err, syscall.ECONNRESET) && len(got) == 0 {
		return nil // refused at accept: closed without an answer
	}
	if err != nil {
		t.Fatalf("reading the answer to % x: %v (got % x)", msg, err, got)
	}
	return got
}

// v5 is a SOCKS 5 greeting (no authentication) and CONNECT request.
func v5(atyp byte, addr []byte, port int) []byte {
	b := []byte{5, 1, 0, 5, 1, 0, atyp}
	if atyp == 3 {
		b = append(b, byte(len(addr)))
	}
	b = append(b, addr...)
	return append(b, byte(port>>8), byte(port))
}

func TestSocksRefusalsOnTheWire(t *testing.T) {
	t.Parallel()
	// A port that refuses: nothing listens there.
	closed := freePort(t)
	s, socks, web, admin, dir := socksApp(t, `    connect_timeout: 3s
    destinations:
      allow: [127.0.0.1/32, 192.0.2.0/24]
      deny: ["127.0.0.1/32:`+strconv.Itoa(closed+1)+`"]
`)
	_, wp, _ := net.SplitHostPort(web)
	webPort, _ := strconv.Atoi(wp)
	lo := []byte{127, 0, 0, 1}
	refusal := func(rep byte) []byte { return []byte{5, 0, 5, rep, 0, 1, 0, 0, 0, 0, 0, 0} }
	for _, tc := range []struct {
		name string
		msg  []byte
		want []byte
	}{
		{"denied port", v5(1, lo, closed+1), refusal(2)},
		{"loopback beyond the allowed address", v5(1, []byte{127, 0, 0, 2}, webPort), refusal(2)},
		{"outside allow", v5(1, []byte{198, 51, 100, 1}, 80), refusal(2)},
		{"link-local", v5(1, []byte{169, 254, 169, 254}, 80), refusal(2)},
		{"ipv6 loopback", v5(4, net.IPv6loopback, webPort), refusal(2)},
		{"unresolvable name", v5(3, []byte("no-such-host.invalid"), 80), refusal(4)},
		{"refused port", v5(1, lo, closed), refusal(5)},
		{"bind", []byte{5, 1, 0, 5, 2, 0, 1, 127, 0, 0, 1, 0, 80}, refusal(7)},
		{"address type", []byte{5, 1, 0, 5, 1, 0, 9, 1, 2, 3}, refusal(8)},
		{"socks4 denied", []byte{4, 1, 0, 80, 10, 0, 0, 1, 0}, []byte{0, 91, 0, 0, 0, 0, 0, 0}},
		{"socks4a unresolvable", append([]byte{4, 1, 0, 80, 0, 0, 0, 1, 0}, "no-such-host.invalid\x00"...), []byte{0, 91, 0, 0, 0, 0, 0, 0}},
		{"no acceptable method", []byte{5, 1, 0x80}, []byte{5, 0xff}},
		{"not socks", []byte("GET / HTTP/1.1\r\n\r\n"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := socksRequest(t, socks, tc.msg); !bytes.Equal(got, tc.want) {
				t.Fatalf("got % x, want % x", got, tc.want)
			}
		})
	}
	// curl reports a refusal with exit 97 and the reply code.
	if code, out := curl(t, "--socks5", socks, "http://127.0.0.1:"+strconv.Itoa(closed+1)+"/"); code != 97 || !strings.Contains(out, "(2)") {
		t.Fatalf("curl through a denied destination: exit %d, %q", code, out)
	}
	metricsHas(t, admin, `twistd_socks_destinations_refused_total{reason="deny",service="proxy"} 2`)
	metricsHas(t, admin, `twistd_socks_destinations_refused_total{reason="local",service="proxy"} 3`)
	metricsHas(t, admin, `twistd_socks_requests_total{reply="connection_refused",service="proxy",version="5"} 1`)
	metricsHas(t, admin, `twistd_socks_requests_total{reply="host_unreachable",service="proxy",version="5"} 1`)
	s.waitFor(`\[proxy\]\s+socks destination refused.*"reason": "deny"`, 5*time.Second)
	s.waitFor(`such targets need an allow: prefix`, 5*time.Second)
	log, _ := os.ReadFile(filepath.Join(dir, "socks.log"))
	for _, want := range []string{"reply=not_allowed/deny", "reply=not_allowed/local", "reply=not_allowed/allow",
		"target=no-such-host.invalid:80 addr=- reply=host_unreachable/unresolvable", "reply=connection_refused", "reply=command_not_supported"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("socks.log lacks %q:\n%s", want, log)
		}
	}
}

func TestSocksStalledHandshakeDropped(t *testing.T) {
	_, socks, _, admin, _ := socksApp(t, "    handshake_timeout: 300ms\n")
	for _, tc := range []struct{ msg, want []byte }{
		{[]byte{5, 2, 0}, nil},                               // half a greeting
		{[]byte{5, 1, 0, 5, 1, 0, 3, 20, 'a'}, []byte{5, 0}}, // half a request: the greeting was answered
		{[]byte{4, 1, 0, 80, 10, 0, 0, 1, 'u', 's'}, nil},    // a SOCKS 4 user id without its end
		{nil, nil}, // nothing at all
	} {
		msg := tc.msg
		c, err := net.Dial("tcp", socks)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(msg)
		began := time.Now()
		got, err := io.ReadAll(c)
		took := time.Since(began)
		c.Close()
		if err != nil {
			t.Fatalf("% x: not dropped: %v", msg, err)
		}
		if took < 250*time.Millisecond {
			t.Fatalf("% x: dropped after %s, before the handshake timeout", msg, took)
		}
		if !bytes.Equal(got, tc.want) {
			t.Fatalf("% x: got % x", msg, got)
		}
	}
	metricsHas(t, admin, `twistd_socks_handshake_failures_total{reason="timeout",service="proxy"} 4`)
}

func TestSocksNameCheckedAfterResolution(t *testing.T) {
	t.Parallel()
	// No destinations: loopback is refused, whatever the name that leads there.
	_, socks, web, admin, dir := socksApp(t, "")
	_, wp, _ := net.SplitHostPort(web)
	port, _ := strconv.Atoi(wp)
	for _, name := range []string{"localhost", "127.0.0.1", "::1", "0.0.0.0"} {
		if got := socksRequest(t, socks, v5(3, []byte(name), port)); !bytes.Equal(got, []byte{5, 0, 5, 2, 0, 1, 0, 0, 0, 0, 0, 0}) {
			t.Fatalf("%s: got % x, want REP 2", name, got)
		}
	}
	if code, out := curl(t, "--socks5-hostname", socks, "http://localhost:"+wp+"/"); code != 97 || !strings.Contains(out, "(2)") {
		t.Fatalf("curl to localhost: exit %d, %q", code, out)
	}
	metricsHas(t, admin, `twistd_socks_destinations_refused_total{reason="local",service="proxy"} 5`)
	lines := waitLogLines(t, filepath.Join(dir, "socks.log"), 5)
	if !strings.Contains(lines[0], "target=localhost:"+wp+" addr=127.0.0.1:"+wp+" reply=not_allowed/local") {
		t.Fatalf("log: %q", lines[0])
	}
}

func TestSocksOneLiner(t *testing.T) {
	t.Parallel()
	// The upstream: answers one line with how many bytes it read.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, _ := io.ReadAll(c)
				c.Write([]byte("read " + strconv.Itoa(len(b)) + "\n"))
			}()
		}
	}()
	dir := t.TempDir()
	s := start(t, dir, nil, "-n", "--pidfile=", "socks", "-p", "0", "-i", "127.0.0.1", "-l", "conn.log",
		"--allow-destination", "127.0.0.1", "--deny-destination", "127.0.0.1:1")
	addr := s.addrs()[0]
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("listening on %s", addr)
	}
	target := ln.Addr().(*net.TCPAddr)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write(v5(1, target.IP.To4(), target.Port))
	reply := make([]byte, 12)
	if _, err := io.ReadFull(c, reply); err != nil || reply[1] != 0 || reply[3] != 0 {
		t.Fatalf("reply % x, %v", reply, err)
	}
	c.Write([]byte("hello"))
	c.(*net.TCPConn).CloseWrite() // the half-close reaches the upstream
	got, _ := io.ReadAll(c)
	if string(got) != "read 5\n" {
		t.Fatalf("got %q", got)
	}
	lines := waitLogLines(t, filepath.Join(dir, "conn.log"), 1)
	if !strings.Contains(lines[0], "reply=succeeded up=5 down=7 ") {
		t.Fatalf("conn.log: %q", lines)
	}
	if got := socksRequest(t, addr, v5(1, []byte{127, 0, 0, 1}, 1)); len(got) < 4 || got[3] != 2 {
		t.Fatalf("denied port: % x", got)
	}

	// Defaults: port 1080 on 127.0.0.1; bad flags are exit 2 with the flag named.
	r := twistd(t, dir, nil, "socks", "--deny-destination", "10.0.0.0/8:http")
	if r.code != 2 || !strings.Contains(r.stderr, "deny-destination") {
		t.Fatalf("bad --deny-destination: exit %d, %q", r.code, r.stderr)
	}
}

func TestSocksCheckErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "bad-users", "alice:$apr1$abc$def\n")
	app := writeFile(t, dir, "app.yaml", `services:
  - name: proxy
    type: socks
    listen: tcp:1080
    users: ./bad-users
    connect_timeout: 0s
    destinations:
      allow: [10.0.0.0/33]
      deny: ["10.0.0.0/8", "10.0.0.0/8:99999", "[::1"]
  - name: p2
    type: socks
    listen: udp:1081
    nonsense: 1
`)
	r := twistd(t, dir, nil, "check", "-c", app)
	if r.code != 2 {
		t.Fatalf("check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"app.yaml:6:22", "connect_timeout must be positive",
		"app.yaml:8:15", "app.yaml:9:28", `"10.0.0.0/8:99999": port "99999"`, "app.yaml:9:48",
		"listen udp:1081", "nonsense",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("check output lacks %q:\n%s", want, r.stderr)
		}
	}
	// The users file is checked once the rest is right.
	app = writeFile(t, dir, "app2.yaml", "services:\n  - {type: socks, listen: 'tcp:1080', users: ./bad-users}\n")
	if r := twistd(t, dir, nil, "check", "-c", app); r.code != 2 || !strings.Contains(r.stderr, "app2.yaml:2:") || !strings.Contains(r.stderr, "bad-users:1: ") {
		t.Fatalf("bad users file: exit %d, %s", r.code, r.stderr)
	}
}

func TestSocksBigTransferBothWays(t *testing.T) {
	t.Parallel()
	host, port := target(t, func(c *net.TCPConn) {
		defer c.Close()
		io.Copy(c, c) // echo
	})
	_, socks, _, _, _ := socksApp(t, allowLoopback)
	c, err := net.Dial("tcp", socks)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	c.Write(v5(1, net.ParseIP(host).To4(), port))
	reply := make([]byte, 12)
	if _, err := io.ReadFull(c, reply); err != nil || reply[1] != 0 {
		t.Fatalf("reply % x, %v", reply, err)
	}
	payload := bytes.Repeat([]byte("twistd socks relay "), 1<<20) // 19 MiB
	go func() {
		c.Write(payload)
		c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("echoed %d of %d bytes, %v", len(got), len(payload), err)
	}
}

func TestSocksPoliciesAndSourceRules(t *testing.T) {
	t.Parallel()
	_, socks, _, admin, _ := socksApp(t, `    deny: [127.0.0.1/32]
`)
	// A denied source is closed without an answer.
	if got := socksRequest(t, socks, v5(1, []byte{192, 0, 2, 1}, 80)); len(got) != 0 {
		t.Fatalf("a denied peer got % x", got)
	}
	metricsHas(t, admin, `twistd_connections_refused_total{reason="deny",service="proxy"} 1`)

	_, socks, _, admin, _ = socksApp(t, `    policies: {max_connections_per_peer: 1}
`)
	first, err := net.Dial("tcp", socks)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	first.Write([]byte{5, 1, 0})
	first.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(first, make([]byte, 2)); err != nil {
		t.Fatal(err)
	}
	if got := socksRequest(t, socks, []byte{5, 1, 0}); len(got) != 0 {
		t.Fatalf("the second connection of a peer got % x", got)
	}
	metricsHas(t, admin, `twistd_connections_refused_total{reason="max_connections_per_peer",service="proxy"} 1`)
}

func TestSocksGracefulStop(t *testing.T) {
	t.Parallel()
	host, port := target(t, func(c *net.TCPConn) {
		defer c.Close()
		io.Copy(c, c)
	})
	s, socks, _, _, _ := socksApp(t, allowLoopback)
	c, err := net.Dial("tcp", socks)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write(v5(1, net.ParseIP(host).To4(), port))
	if _, err := io.ReadFull(c, make([]byte, 12)); err != nil {
		t.Fatal(err)
	}
	s.signal(syscall.SIGTERM)
	s.waitFor(`stopping|shutting down|SIGTERM|terminated`, 5*time.Second)
	// The relay in flight keeps working during the drain...
	c.Write([]byte("still here"))
	buf := make([]byte, 10)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "still here" {
		t.Fatalf("relay during the drain: %q, %v", buf, err)
	}
	// ...and once it ends, the process exits cleanly.
	c.(*net.TCPConn).CloseWrite()
	io.ReadAll(c)
	if code := s.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

func TestSocksIPv6(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 1024)
				n, _ := c.Read(buf)
				if strings.HasPrefix(string(buf[:n]), "GET ") {
					c.Write([]byte("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nv6\n"))
					return
				}
				c.Write(buf[:n])
			}()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	_, socks, _, _, dir := socksApp(t, "    destinations: {allow: ['::1/128']}\n")
	if code, out := curl(t, "--socks5", socks, "http://[::1]:"+strconv.Itoa(port)+"/"); code != 0 || out != "v6\n" {
		t.Fatalf("curl to [::1]: exit %d, %q", code, out)
	}
	// By address on the wire: the reply's bound address is IPv6 too.
	c, err := net.Dial("tcp", socks)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write(v5(4, net.IPv6loopback, port))
	reply := make([]byte, 2+22) // the greeting's answer, then the request's
	if _, err := io.ReadFull(c, reply); err != nil || reply[3] != 0 || reply[5] != 4 || !net.IP(reply[6:22]).Equal(net.IPv6loopback) {
		t.Fatalf("reply % x, %v", reply, err)
	}
	c.Write([]byte("ping6"))
	got := make([]byte, 5)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping6" {
		t.Fatalf("relay: %q, %v", got, err)
	}
	lines := waitLogLines(t, filepath.Join(dir, "socks.log"), 1)
	if !strings.Contains(lines[0], "target=[::1]:"+strconv.Itoa(port)+" addr=[::1]:") {
		t.Fatalf("log: %q", lines[0])
	}
}

func TestSocksReloadChangesRules(t *testing.T) {
	t.Parallel()
	host, port := target(t, func(c *net.TCPConn) {
		defer c.Close()
		io.Copy(c, c)
	})
	s, socks, _, _, dir := socksApp(t, allowLoopback)
	req := v5(1, net.ParseIP(host).To4(), port)
	c, err := net.Dial("tcp", socks)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write(req)
	if _, err := io.ReadFull(c, make([]byte, 12)); err != nil {
		t.Fatal(err)
	}
	// The same service, loopback no longer allowed: the socket is kept
	// and the new rules hold for new requests.
	app, _ := os.ReadFile(filepath.Join(dir, "app.yaml"))
	os.WriteFile(filepath.Join(dir, "app.yaml"), bytes.Replace(app, []byte(allowLoopback), []byte("    destinations: {allow: [192.0.2.0/24]}\n"), 1), 0o644)
	s.signal(syscall.SIGHUP)
	s.waitFor(`reload`, 10*time.Second)
	// The old instance may still take a connection while it stops
	// accepting (the reload overlaps them so none is refused): poll.
	probe := func() byte {
		p, err := net.Dial("tcp", socks)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		p.SetDeadline(time.Now().Add(5 * time.Second))
		p.Write(req)
		got := make([]byte, 12)
		if _, err := io.ReadFull(p, got); err != nil {
			t.Fatalf("probe: % x, %v", got, err)
		}
		return got[3]
	}
	eventually(t, 5*time.Second, "the new rules", func() bool { return probe() == 2 })
	for range 5 {
		if rep := probe(); rep != 2 {
			t.Fatalf("after the new rules held once, reply %d", rep)
		}
	}
	// The relay made before the reload goes on.
	c.Write([]byte("old relay"))
	got := make([]byte, 9)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "old relay" {
		t.Fatalf("relay across the reload: %q, %v", got, err)
	}
}

func TestSocksIdleTimeout(t *testing.T) {
	host, port := target(t, func(c *net.TCPConn) {
		defer c.Close()
		io.Copy(c, c)
	})
	_, socks, _, _, _ := socksApp(t, allowLoopback+"    policies: {idle_timeout: 300ms}\n")
	c, err := net.Dial("tcp", socks)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write(v5(1, net.ParseIP(host).To4(), port))
	if _, err := io.ReadFull(c, make([]byte, 12)); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("an idle relay was not closed: %v", err)
	}
	if took := time.Since(began); took < 250*time.Millisecond {
		t.Fatalf("closed after %s", took)
	}
}
