package test

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// mailServer runs `twistd mail` on port 0 with extra flags; it returns the
// SMTP and POP3 addresses and the directory of the localhost domain.
func mailServer(t *testing.T, extra ...string) (s *server, smtpAddr, popAddr, emails string) {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"-n", "--pidfile=", "mail", "-E", "-H", "localhost", "-d", "localhost=emails",
		"-s", "tcp:0:interface=127.0.0.1", "-p", "tcp:0:interface=127.0.0.1", "-u", "alice=secret"}, extra...)
	s = start(t, dir, nil, args...)
	a := s.addrs()
	if len(a) != 2 {
		t.Fatalf("want two listeners, got %v", a)
	}
	return s, a[0], a[1], filepath.Join(dir, "emails")
}

// python runs a Python script with args, failing the test on error.
func python(t *testing.T, script string, args ...string) string {
	t.Helper()
	cmd := exec.Command("python3", append([]string{"-c", script}, args...)...)
	done := make(chan struct{})
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	out, err := cmd.CombinedOutput()
	close(done)
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	return string(out)
}

// files lists the regular files of a directory.
func files(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if de.Type().IsRegular() {
			out = append(out, filepath.Join(dir, de.Name()))
		}
	}
	return out
}

func hostPort(addr string) (string, string) {
	h, p, _ := net.SplitHostPort(addr)
	return h, p
}

func TestMailSwaksIntoMaildirThenPOP3(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("swaks"); err != nil {
		t.Skip("swaks not installed (apt-get install -y swaks)")
	}
	_, smtpAddr, popAddr, emails := mailServer(t)
	out, err := exec.Command("swaks", "--server", smtpAddr, "--to", "alice@localhost", "--body", "hi").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	got := files(t, filepath.Join(emails, "alice", "new"))
	if len(got) != 1 {
		t.Fatalf("want exactly one message in new, got %v\n%s", got, out)
	}
	if tmp := files(t, filepath.Join(emails, "alice", "tmp")); len(tmp) != 0 {
		t.Fatalf("tmp not empty: %v", tmp)
	}
	msg, _ := os.ReadFile(got[0])
	if !strings.HasPrefix(string(msg), "Received: from ") || !strings.Contains(string(msg), "by localhost (twistd) with ESMTP") ||
		!strings.Contains(string(msg), "\n\nhi\n") {
		t.Fatalf("message:\n%s", msg)
	}
	host, port := hostPort(popAddr)
	res := python(t, `
import poplib, sys
p = poplib.POP3(sys.argv[1], int(sys.argv[2]), timeout=10)
p.user("alice"); p.pass_("secret")
n, size = p.stat()
print("stat", n, size)
resp, lines, octets = p.retr(1)
print("body", b"hi" in lines, octets >= size)
print(p.uidl(1))
p.dele(1)
print(p.quit())
`, host, port)
	if !strings.Contains(res, "stat 1 ") || !strings.Contains(res, "body True True") || !strings.Contains(res, "+OK bye") {
		t.Fatalf("poplib:\n%s", res)
	}
	if left := files(t, filepath.Join(emails, "alice", "new")); len(left) != 0 {
		t.Fatalf("DELE then QUIT left %v", left)
	}
}

func TestMailPOP3WrongPasswordAndRset(t *testing.T) {
	t.Parallel()
	s, smtpAddr, popAddr, emails := mailServer(t)
	host, sport := hostPort(smtpAddr)
	_, pport := hostPort(popAddr)
	res := python(t, `
import poplib, smtplib, sys
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=10)
s.sendmail("bob@example.com", ["alice@localhost"], "Subject: one\r\n\r\n.leading dot\r\nbody\r\n")
s.quit()
try:
    p = poplib.POP3(sys.argv[1], int(sys.argv[3]), timeout=10)
    p.user("alice"); p.pass_("wrong")
    print("LOGGED IN")
except poplib.error_proto as e:
    print("refused", e)
p = poplib.POP3(sys.argv[1], int(sys.argv[3]), timeout=10)
p.user("alice"); p.pass_("secret")
try:
    q = poplib.POP3(sys.argv[1], int(sys.argv[3]), timeout=10)
    q.user("alice"); q.pass_("secret")
    print("TWO SESSIONS")
except poplib.error_proto as e:
    print("locked", e)
print(p.retr(1)[1])
p.dele(1); p.rset()
print(p.top(1, 0)[1][-1:])
p.quit()
`, host, sport, pport)
	for _, want := range []string{"refused b'-ERR [AUTH]", "locked b'-ERR [IN-USE]", "b'.leading dot', b'body'", "[b'']"} {
		if !strings.Contains(res, want) {
			t.Fatalf("want %q in:\n%s", want, res)
		}
	}
	if n := len(files(t, filepath.Join(emails, "alice", "new"))); n != 1 {
		t.Fatalf("RSET then QUIT: want the message kept, have %d", n)
	}
	s.waitFor(`pop3: login failed.*alice`, 5*time.Second)
}

func TestMailRefusesRelayUnknownUsersAndOversize(t *testing.T) {
	t.Parallel()
	_, smtpAddr, _, emails := mailServer(t, "--max-message-size", "2KiB")
	host, port := hostPort(smtpAddr)
	res := python(t, `
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=10)
code, caps = s.ehlo()
print("caps", caps.decode().replace("\n", " "))
s.mail("x@example.com"); print("relay", s.rcpt("bob@example.org")); s.rset()
s.mail("x@example.com"); print("unknown", s.rcpt("nobody@localhost")); s.rset()
print("sizeparam", s.mail("x@example.com", ["SIZE=100000"])); s.rset()
s.mail("x@example.com"); s.rcpt("alice@localhost")
print("big", s.data("Subject: big\r\n\r\n" + ("y" * 78 + "\r\n") * 100)[0])
`, host, port)
	for _, want := range []string{"SIZE 2048", "8BITMIME", "PIPELINING", "relay (550, b'5.7.1", "unknown (550, b'5.1.1", "sizeparam (552", "big 552"} {
		if !strings.Contains(res, want) {
			t.Fatalf("want %q in:\n%s", want, res)
		}
	}
	if strings.Contains(res, "STARTTLS") || strings.Contains(res, "AUTH") {
		t.Fatalf("no certificate, no --auth: want neither STARTTLS nor AUTH offered:\n%s", res)
	}
	for _, sub := range []string{"new", "tmp"} {
		if got := files(t, filepath.Join(emails, "alice", sub)); len(got) != 0 {
			t.Fatalf("a refused message left %v", got)
		}
	}
}

func TestMailDisconnectMidDataDeliversNothing(t *testing.T) {
	t.Parallel()
	_, smtpAddr, _, emails := mailServer(t)
	c, err := net.Dial("tcp", smtpAddr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	expect := func(code string) {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("want %s: %v", code, err)
			}
			if !strings.HasPrefix(line, code) {
				t.Fatalf("want %s, got %q", code, line)
			}
			if len(line) > 3 && line[3] == ' ' {
				return
			}
		}
	}
	expect("220")
	for _, step := range []struct{ cmd, code string }{{"EHLO me", "250"}, {"MAIL FROM:<a@b.c>", "250"},
		{"RCPT TO:<alice@localhost>", "250"}, {"DATA", "354"}} {
		c.Write([]byte(step.cmd + "\r\n"))
		expect(step.code)
	}
	c.Write([]byte("Subject: cut\r\n\r\nhalf a message"))
	// The half-written file shows in tmp; it must go once the peer does.
	eventually(t, 5*time.Second, "the message spooled in tmp", func() bool {
		return len(files(t, filepath.Join(emails, "alice", "tmp"))) == 1
	})
	c.Close()
	eventually(t, 5*time.Second, "tmp emptied after the disconnect", func() bool {
		return len(files(t, filepath.Join(emails, "alice", "tmp"))) == 0
	})
	if got := files(t, filepath.Join(emails, "alice", "new")); len(got) != 0 {
		t.Fatalf("a cut message was delivered: %v", got)
	}
}

func TestMailSTARTTLSAuthAndSTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key, cert := selfSigned(t, dir)
	k, _ := os.ReadFile(key)
	c, _ := os.ReadFile(cert)
	pem := writeFile(t, dir, "mail.pem", string(k)+string(c))
	_, smtpAddr, popAddr, emails := mailServer(t, "--certificate", pem, "--auth")
	host, sport := hostPort(smtpAddr)
	_, pport := hostPort(popAddr)
	res := python(t, `
import smtplib, poplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=10)
s.ehlo(); print("plain", s.has_extn("starttls"), s.has_extn("auth"))
s.starttls(context=ctx); s.ehlo()
print("tls", s.has_extn("auth"), s.esmtp_features.get("auth"))
try:
    s.login("alice", "wrong"); print("WRONG LOGIN OK")
except smtplib.SMTPAuthenticationError as e:
    print("badauth", e.smtp_code)
s.login("alice", "secret"); print("authed")
s.sendmail("alice@localhost", ["alice@localhost"], "Subject: tls\r\n\r\nover tls\r\n")
s.quit()
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=10)
s.ehlo(); s.starttls(context=ctx); s.ehlo(); s.esmtp_features["auth"] = "LOGIN"
s.login("alice", "secret"); print("login mech ok"); s.quit()
p = poplib.POP3(sys.argv[1], int(sys.argv[3]), timeout=10)
print("popcaps", sorted(p.capa()))
try:
    p.user("alice"); print("USER BEFORE STLS OK")
except poplib.error_proto as e:
    print("needtls", e)
p.stls(context=ctx)
p.user("alice"); p.pass_("secret"); print("popstat", p.stat()); p.quit()
`, host, sport, pport)
	for _, want := range []string{"plain True False", "PLAIN LOGIN", "badauth 535", "authed", "login mech ok",
		"'STLS'", "needtls b'-ERR [AUTH]", "popstat (1,"} {
		if !strings.Contains(res, want) {
			t.Fatalf("want %q in:\n%s", want, res)
		}
	}
	got := files(t, filepath.Join(emails, "alice", "new"))
	if len(got) != 1 {
		t.Fatalf("want one message, got %v", got)
	}
	msg, _ := os.ReadFile(got[0])
	if !strings.Contains(string(msg), "with ESMTPSA id") {
		t.Fatalf("Received: should say ESMTPSA:\n%s", msg)
	}
}

func TestMailFileConfigAndErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := writeFile(t, dir, "app.yaml", `
services:
  - name: post
    type: mail
    listen: [tcp:0:interface=127.0.0.1, tcp:0:interface=::1]
    hostname: mx.example
    domains: {example.org: boxes}
    pop3: [tcp:0:interface=::1]
    users: {carol: pw}
    max_recipients: 0
    bogus_key: 1
`)
	r := twistd(t, dir, nil, "check", "-c", app)
	if r.code == 0 {
		t.Fatalf("check passed a bad file:\n%s%s", r.stdout, r.stderr)
	}
	out := r.stdout + r.stderr
	for _, want := range []string{"app.yaml:11:", "bogus_key", "app.yaml:10:", "max_recipients must be positive"} {
		if !strings.Contains(out, want) {
			t.Fatalf("want %q in:\n%s", want, out)
		}
	}
	app = writeFile(t, dir, "app.yaml", `
services:
  - name: post
    type: mail
    listen: [tcp:0:interface=127.0.0.1]
    hostname: mx.example
    domains: {example.org: boxes}
    users: {carol: pw}
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	host, port := hostPort(s.addrs()[0])
	res := python(t, `
import smtplib, sys
s = smtplib.SMTP(timeout=10)
print(s.connect(sys.argv[1], int(sys.argv[2])))
s.sendmail("a@b.c", ["Carol@Example.ORG"], "Subject: x\r\n\r\nhello\r\n")
s.quit()
`, host, port)
	if !strings.Contains(res, "mx.example") {
		t.Fatalf("greeting: %s", res)
	}
	if n := len(files(t, filepath.Join(dir, "boxes", "carol", "new"))); n != 1 {
		t.Fatalf("want one message for carol, got %d", n)
	}
}

func TestMailOneLinerFlagErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := twistd(t, dir, nil, "mail", "-H", "localhost")
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "-d DOMAIN=DIR") {
		t.Fatalf("want a -d error: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = twistd(t, dir, nil, "mail", "-d", "localhost")
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "want DOMAIN=DIR") {
		t.Fatalf("want a DOMAIN=DIR error: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = twistd(t, dir, nil, "mail", "-d", "localhost=emails", "--auth")
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "users") {
		t.Fatalf("--auth without users: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestMailUsersFileGuardMetricsAndReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	writeFile(t, dir, "users", "# mailbox owners\nerin:"+hash("pw1")+"\n")
	app := writeFile(t, dir, "app.yaml", `
admin: {listen: 'tcp:0:interface=127.0.0.1'}
services:
  - name: post
    type: mail
    listen: [tcp:0:interface=127.0.0.1, tcp:0:interface=127.0.0.1]
    pop3: [tcp:0:interface=127.0.0.1]
    hostname: localhost
    domains: {localhost: boxes}
    users_file: users
    auth_failure_delay: 10ms
    max_auth_failures: 2
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	a := s.addrs()
	admin := "http://" + a[0]
	host, sport := hostPort(a[1])
	_, pport := hostPort(a[2])
	py := `
import poplib, smtplib, sys
host, sport, pport, who, pw = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
def login(user, pw):
    try:
        p = poplib.POP3(host, pport, timeout=10); p.user(user); p.pass_(pw); n = p.stat()[0]; p.quit(); return "ok %d" % n
    except poplib.error_proto as e:
        return "refused %s" % e
if who == "send":
    s = smtplib.SMTP(host, sport, timeout=10)
    s.sendmail("a@b.c", ["erin@localhost"], "Subject: x\r\n\r\nhi\r\n")
    s.mail("a@b.c"); print("relay", s.rcpt("x@elsewhere.example")[0]); s.quit()
else:
    print(who, login(who, pw))
`
	if out := python(t, py, host, sport, pport, "send", "-"); !strings.Contains(out, "relay 550") {
		t.Fatal(out)
	}
	if out := python(t, py, host, sport, pport, "erin", "pw1"); !strings.Contains(out, "erin ok 1") {
		t.Fatalf("bcrypt user: %s", out)
	}
	for range 2 {
		if out := python(t, py, host, sport, pport, "erin", "nope"); !strings.Contains(out, "refused b'-ERR [AUTH] invalid") {
			t.Fatalf("wrong password: %s", out)
		}
	}
	// Two failures from this peer: now even the right password is refused unchecked.
	if out := python(t, py, host, sport, pport, "erin", "pw1"); !strings.Contains(out, "too many failed logins") {
		t.Fatalf("after max_auth_failures: %s", out)
	}
	for _, want := range []string{
		`twistd_mail_messages_total{result="accepted",service="post"} 1`,
		`twistd_mail_messages_total{result="refused",service="post"} 1`,
		`twistd_mail_logins_total{protocol="pop3",result="ok",service="post"} 1`,
		`twistd_mail_logins_total{protocol="pop3",result="failed",service="post"} 3`,
	} {
		metricsHas(t, a[0], want)
	}
	_ = admin
	// SIGHUP re-reads the users file: a new user can log in (a fresh
	// peer address is not needed: the guard forgets nothing, so use a
	// second loopback address).
	writeFile(t, dir, "users", "erin:"+hash("pw1")+"\nfrank:"+hash("pw2")+"\n")
	s.signal(syscall.SIGHUP)
	s.waitFor(`reload`, 10*time.Second)
	eventually(t, 10*time.Second, "frank logs in after the reload", func() bool {
		return strings.Contains(pythonFrom(t, "127.0.0.2", py, "127.0.0.1", sport, pport, "frank", "pw2"), "frank ok 0")
	})
	s.signal(syscall.SIGTERM)
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// pythonFrom runs a Python script whose sockets bind to the source address src.
func pythonFrom(t *testing.T, src, script string, args ...string) string {
	t.Helper()
	prelude := "import socket\n_orig = socket.create_connection\n" +
		"def _cc(addr, timeout=None, source_address=None, **kw):\n    return _orig(addr, timeout, ('" + src + "', 0))\n" +
		"socket.create_connection = _cc\n"
	return python(t, prelude+script, args...)
}

// SMTPS and POP3S on ssl: endpoints: the reactor does the handshake, and
// AUTH is offered at once, the session being under TLS already.
func TestMailOverSSLEndpoints(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	selfSigned(t, dir)
	app := writeFile(t, dir, "app.yaml", `
services:
  - name: post
    type: mail
    listen: ["ssl:0:privateKey=key.pem:certKey=cert.pem:interface=127.0.0.1", "ssl:0:privateKey=key.pem:certKey=cert.pem:interface=127.0.0.1"]
    pop3: ["ssl:0:privateKey=key.pem:certKey=cert.pem:interface=127.0.0.1"]
    hostname: localhost
    domains: {localhost: boxes}
    users: {alice: secret}
    auth: true
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	a := s.addrs()
	host, sport := hostPort(a[0])
	_, pport := hostPort(a[1])
	res := python(t, `
import smtplib, poplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL(sys.argv[1], int(sys.argv[2]), timeout=10, context=ctx)
s.ehlo(); print("auth", s.has_extn("auth"), "starttls", s.has_extn("starttls"))
s.login("alice", "secret")
s.sendmail("alice@localhost", ["alice@localhost"], "Subject: s\r\n\r\nsmtps\r\n"); s.quit()
p = poplib.POP3_SSL(sys.argv[1], int(sys.argv[3]), timeout=10, context=ctx)
p.user("alice"); p.pass_("secret"); print("stat", p.stat()); p.quit()
`, host, sport, pport)
	if !strings.Contains(res, "auth True starttls False") || !strings.Contains(res, "stat (1,") {
		t.Fatalf("got:\n%s", res)
	}
	got := files(t, filepath.Join(dir, "boxes", "alice", "new"))
	if len(got) != 1 {
		t.Fatalf("want one message, got %v", got)
	}
	if msg, _ := os.ReadFile(got[0]); !strings.Contains(string(msg), "with ESMTPSA") {
		t.Fatalf("Received: %s", msg)
	}
}

// A stop lets a transaction in progress finish within the drain.
func TestMailStopDrainsATransaction(t *testing.T) {
	t.Parallel()
	s, smtpAddr, _, emails := mailServer(t)
	c, err := net.Dial("tcp", smtpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	expect := func(code string) {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if err != nil || !strings.HasPrefix(line, code) {
				t.Fatalf("want %s, got %q %v", code, line, err)
			}
			if line[3] == ' ' {
				return
			}
		}
	}
	expect("220")
	c.Write([]byte("EHLO me\r\n"))
	expect("250")
	c.Write([]byte("MAIL FROM:<a@b.c>\r\n"))
	expect("250")
	s.signal(syscall.SIGTERM)
	s.waitFor(`stopping`, 5*time.Second)
	for _, step := range []struct{ cmd, code string }{{"RCPT TO:<alice@localhost>", "250"}, {"DATA", "354"},
		{"Subject: late\r\n\r\nsent while stopping\r\n.", "250"}} {
		c.Write([]byte(step.cmd + "\r\n"))
		expect(step.code)
	}
	// Between transactions the session is ended: QUIT meets 221, or the
	// 421 that came first.
	c.Write([]byte("QUIT\r\n"))
	if line, _ := r.ReadString('\n'); !strings.HasPrefix(line, "221") && !strings.HasPrefix(line, "421") {
		t.Fatalf("after the transaction: %q", line)
	}
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if n := len(files(t, filepath.Join(emails, "alice", "new"))); n != 1 {
		t.Fatalf("want the message delivered during the drain, got %d", n)
	}
}

// A stop does not wait for idle sessions: SMTP ones get 421, POP3 ones
// -ERR, and the process exits well within its drain time.
func TestMailStopEndsIdleSessions(t *testing.T) {
	s, smtpAddr, popAddr, _ := mailServer(t)
	sc, err := net.Dial("tcp", smtpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	pc, err := net.Dial("tcp", popAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	sr, pr := bufio.NewReader(sc), bufio.NewReader(pc)
	sc.SetDeadline(time.Now().Add(10 * time.Second))
	pc.SetDeadline(time.Now().Add(10 * time.Second))
	sr.ReadString('\n')
	pr.ReadString('\n')
	sc.Write([]byte("HELO me\r\n"))
	sr.ReadString('\n')
	pc.Write([]byte("USER alice\r\nPASS secret\r\n"))
	pr.ReadString('\n')
	if l, _ := pr.ReadString('\n'); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("login: %q", l)
	}
	began := time.Now()
	s.signal(syscall.SIGTERM)
	if l, _ := sr.ReadString('\n'); !strings.HasPrefix(l, "421") {
		t.Fatalf("idle SMTP session at a stop: %q", l)
	}
	if l, _ := pr.ReadString('\n'); !strings.HasPrefix(l, "-ERR") {
		t.Fatalf("idle POP3 session at a stop: %q", l)
	}
	if code := s.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Fatalf("stop took %s with idle sessions", d)
	}
}

// max_errors refused commands end the session with 421.
func TestMailTooManyErrorsCloseTheSession(t *testing.T) {
	t.Parallel()
	_, smtpAddr, _, _ := mailServer(t)
	c, err := net.Dial("tcp", smtpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	r.ReadString('\n')
	c.Write([]byte("HELO me\r\nMAIL FROM:<a@b.c>\r\n"))
	r.ReadString('\n')
	r.ReadString('\n')
	var codes []string
	for i := range 10 {
		c.Write([]byte("RCPT TO:<u" + itoa(i) + "@elsewhere.example>\r\n"))
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %v: %v", codes, err)
		}
		codes = append(codes, line[:3])
	}
	if strings.Join(codes, ",") != "550,550,550,550,550,550,550,550,550,421" {
		t.Fatalf("codes %v", codes)
	}
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("the session stayed open after 421")
	}
}

// Two processes on the same Maildirs: a mailbox one holds is locked for
// the other too.
func TestMailPOP3LockAcrossProcesses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var pops []string
	for range 2 {
		s := start(t, dir, nil, "-n", "--pidfile=", "mail", "-H", "localhost", "-d", "localhost=emails",
			"--no-smtp", "-p", "tcp:0:interface=127.0.0.1", "-u", "alice=secret")
		pops = append(pops, s.addrs()[0])
	}
	host, p1 := hostPort(pops[0])
	_, p2 := hostPort(pops[1])
	res := python(t, `
import poplib, sys
a = poplib.POP3(sys.argv[1], int(sys.argv[2]), timeout=10); a.user("alice"); a.pass_("secret")
try:
    b = poplib.POP3(sys.argv[1], int(sys.argv[3]), timeout=10); b.user("alice"); b.pass_("secret"); print("BOTH")
except poplib.error_proto as e:
    print("locked", e)
a.quit()
b = poplib.POP3(sys.argv[1], int(sys.argv[3]), timeout=10); b.user("alice"); b.pass_("secret"); print("after", b.stat()); b.quit()
`, host, p1, p2)
	if !strings.Contains(res, "locked b'-ERR [IN-USE]") || !strings.Contains(res, "after (0, 0)") {
		t.Fatalf("got:\n%s", res)
	}
}
