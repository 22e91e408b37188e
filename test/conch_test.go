package test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestConchExecExitStatusAndStdin(t *testing.T) {
	t.Parallel()
	f := startConch(t)
	r := f.ssh(t, "", "echo hi")
	if r.code != 0 || r.stdout != "hi\n" {
		t.Fatalf("echo hi: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := f.ssh(t, "", "echo out; echo err >&2; exit 3"); r.code != 3 || r.stdout != "out\n" || r.stderr != "err\n" {
		t.Fatalf("exit 3: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// The client's EOF on stdin ends cat.
	in := strings.Repeat("line of input\n", 5000)
	if r := f.ssh(t, in, "cat; echo done"); r.code != 0 || r.stdout != in+"done\n" {
		t.Fatalf("cat: code %d, %d bytes out, want %d; stderr %q", r.code, len(r.stdout), len(in)+5, r.stderr)
	}
	// A clean environment with the user's own values, and the accepted LANG.
	r = f.ssh(t, "", "-o", "SetEnv=LANG=C.twistd FOO=bar", `echo "$USER|$LOGNAME|$HOME|$LANG|$FOO|${SSH_CONNECTION%% *}"; pwd`)
	home, _ := os.UserHomeDir()
	want := fmt.Sprintf("%s|%s|%s|C.twistd||127.0.0.1\n", f.user, f.user, home)
	if r.code != 0 || !strings.HasPrefix(r.stdout, want) {
		t.Fatalf("environment: code %d, stdout %q, want prefix %q (stderr %q)", r.code, r.stdout, want, r.stderr)
	}
	// A signal from a program is reported (OpenSSH's client exits 255).
	if r := f.ssh(t, "", "kill -TERM $$"); r.code != 255 {
		t.Fatalf("killed program: code %d, want 255; stderr %q", r.code, r.stderr)
	}
	f.srv.waitFor(`\[ssh\]\s+session.*"kind": "exec"`, 5*time.Second)
}

func TestConchPTY(t *testing.T) {
	t.Parallel()
	f := startConch(t)
	r := runTool(t, "", []string{"TERM=xterm-256color"}, "ssh",
		append(sshOpts(f.key, f.port, "-p"), "-tt", f.user+"@127.0.0.1", `tty; echo "TERM=$TERM"; stty -a | head -1; exit 4`)...)
	if r.code != 4 || !strings.Contains(r.stdout, "/dev/pts/") || !strings.Contains(r.stdout, "TERM=xterm-256color") {
		t.Fatalf("ssh -tt: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestConchWrongKeyRefused(t *testing.T) {
	t.Parallel()
	f := startConch(t)
	other := sshKey(t, f.dir, "id_other")
	r := f.sshAs(t, f.user, other, "", "echo hi")
	if r.code != 255 || r.stdout != "" || !strings.Contains(r.stderr, "Permission denied") {
		t.Fatalf("wrong key: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	f.srv.waitFor(`WARN\s+\[ssh\]\s+login failed.*"user": "`+f.user+`".*127\.0\.0\.1.*not authorized`, 5*time.Second)
	// Other accounts are not ours to log in as when we are not root, and
	// unknown ones never.
	r = f.sshAs(t, "no-such-user-twistd", f.key, "", "echo hi")
	if r.code != 255 || !strings.Contains(r.stderr, "Permission denied") {
		t.Fatalf("unknown user: code %d, stderr %q", r.code, r.stderr)
	}
}

func TestConchMaxAuthTries(t *testing.T) {
	t.Parallel()
	f := startConch(t)
	args := sshOpts(f.key, f.port, "-p")
	args = args[:len(args)-4] // without -i KEY -p PORT
	for i := range 8 {
		args = append(args, "-i", sshKey(t, f.dir, "wrong"+strconv.Itoa(i)))
	}
	args = append(args, "-p", f.port, f.user+"@127.0.0.1", "echo hi")
	r := runTool(t, "", nil, "ssh", args...)
	if r.code != 255 || !strings.Contains(strings.ToLower(r.stderr), "too many authentication failures") {
		t.Fatalf("8 wrong keys: code %d, stderr %q", r.code, r.stderr)
	}
}

func TestConchFailuresLimitedPerPeer(t *testing.T) {
	t.Parallel()
	needOpenSSH(t)
	dir := t.TempDir()
	key := sshKey(t, dir, "id_test")
	writeFile(t, dir, "authorized_keys", pubKey(t, key))
	hostKeys(t, dir)
	app := writeFile(t, dir, "app.yaml", `
services:
  - type: ssh
    listen: tcp:0:interface=127.0.0.1
    auth: authorized_keys:authorized_keys
    max_auth_failures_per_peer: 3/h
`)
	os.Chmod(filepath.Join(dir, "authorized_keys"), 0o600)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	addr := s.addrs()[0]
	f := &conchFixture{srv: s, dir: dir, key: key, port: addr[strings.LastIndexByte(addr, ':')+1:], user: currentUser(t)}
	if r := f.ssh(t, "", "echo ok"); r.stdout != "ok\n" {
		t.Fatalf("good key first: %+v", r)
	}
	other := sshKey(t, dir, "id_other")
	for range 3 {
		f.sshAs(t, f.user, other, "", "echo hi")
	}
	// The peer used up its failures: even the right key is turned away
	// before the handshake.
	r := f.ssh(t, "", "echo ok")
	if r.code != 255 || r.stdout != "" {
		t.Fatalf("after 3 failures: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	s.waitFor(`connection refused: too many failed logins`, 5*time.Second)
}

func TestConchSFTPAndSCP(t *testing.T) {
	t.Parallel()
	needOpenSSH(t, "sftp", "scp")
	f := startConch(t)
	payload := make([]byte, 3<<20+17)
	rand.Read(payload)
	src := filepath.Join(f.dir, "up.bin")
	os.WriteFile(src, payload, 0o644)
	remote := filepath.Join(f.dir, "remote")
	os.Mkdir(remote, 0o755)
	batch := writeFile(t, f.dir, "batch", fmt.Sprintf("put %s %s/put.bin\nget %s/put.bin %s/got.bin\nls %s\npwd\n",
		src, remote, remote, f.dir, remote))
	r := runTool(t, "", nil, "sftp", append(sshOpts(f.key, f.port, "-P"), "-b", batch, f.user+"@127.0.0.1")...)
	if r.code != 0 {
		t.Fatalf("sftp -b: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	for _, p := range []string{filepath.Join(remote, "put.bin"), filepath.Join(f.dir, "got.bin")} {
		if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("%s: %d bytes, %v; want the %d sent", p, len(got), err, len(payload))
		}
	}
	// The session starts in the user's home, as sshd's internal-sftp.
	home, _ := os.UserHomeDir()
	if !strings.Contains(r.stdout, "Remote working directory: "+home) {
		t.Errorf("pwd: want %s in %q", home, r.stdout)
	}
	// scp (over SFTP, OpenSSH 9's default) both ways.
	r = runTool(t, "", nil, "scp", append(sshOpts(f.key, f.port, "-P"), src, f.user+"@127.0.0.1:"+remote+"/scp.bin")...)
	if got, _ := os.ReadFile(filepath.Join(remote, "scp.bin")); r.code != 0 || !bytes.Equal(got, payload) {
		t.Fatalf("scp: code %d, %d bytes, stderr %q", r.code, len(got), r.stderr)
	}
}

func TestConchHostKeysGeneratedAndKept(t *testing.T) {
	t.Parallel()
	needOpenSSH(t, "ssh-keyscan")
	dir := t.TempDir()
	key := sshKey(t, dir, "id_test")
	ak := writeFile(t, dir, "authorized_keys", pubKey(t, key))
	os.Chmod(ak, 0o600)
	run := func() string {
		s := start(t, dir, nil, "-n", "--pidfile=", "conch", "-p", "tcp:0:interface=127.0.0.1",
			"--data", "keys", "--auth", "authorized_keys:authorized_keys")
		addr := s.addrs()[0]
		port := addr[strings.LastIndexByte(addr, ':')+1:]
		r := runTool(t, "", nil, "ssh-keyscan", "-p", port, "-t", "ed25519,rsa", "127.0.0.1")
		s.signal(syscall.SIGTERM)
		if code := s.wait(15 * time.Second); code != 0 {
			t.Fatalf("stop: exit %d", code)
		}
		var keys []string
		for _, l := range strings.Split(r.stdout, "\n") {
			if f := strings.Fields(l); len(f) == 3 {
				keys = append(keys, f[1]+" "+f[2])
			}
		}
		if len(keys) != 2 {
			t.Fatalf("ssh-keyscan: want an ed25519 and an RSA key, got %q (stderr %q)", r.stdout, r.stderr)
		}
		sort.Strings(keys) // ssh-keyscan prints them in the order they come
		return strings.Join(keys, "\n")
	}
	first := run()
	for _, n := range []string{"ssh_host_ed25519_key", "ssh_host_rsa_key"} {
		st, err := os.Stat(filepath.Join(dir, "keys", n))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v; want 0600", n, err, st.Mode().Perm())
		}
		// OpenSSH reads what we wrote.
		if out, err := exec.Command("ssh-keygen", "-l", "-f", filepath.Join(dir, "keys", n)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen -l %s: %v %s", n, err, out)
		}
	}
	if second := run(); second != first {
		t.Fatalf("host keys changed across a restart:\n%s\nthen\n%s", first, second)
	}
	if !strings.Contains(first, "ssh-rsa") || !strings.Contains(first, "ssh-ed25519") {
		t.Fatalf("keys: %s", first)
	}
}

// askpass writes a script that prints pw, for ssh's SSH_ASKPASS.
func askpass(t *testing.T, dir, pw string) []string {
	p := filepath.Join(dir, "askpass.sh")
	os.WriteFile(p, []byte("#!/bin/sh\necho '"+pw+"'\n"), 0o755)
	return []string{"SSH_ASKPASS=" + p, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=none"}
}

func TestConchPasswordFile(t *testing.T) {
	t.Parallel()
	needOpenSSH(t)
	dir := t.TempDir()
	me := currentUser(t)
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	pw := writeFile(t, dir, "passwd", "# users\n"+me+":"+string(hash)+"\n")
	hostKeys(t, dir)
	s := start(t, dir, nil, "-n", "--pidfile=", "conch", "-p", "tcp:0:interface=127.0.0.1",
		"--data", "ssh", "--auth", "file:"+pw)
	addr := s.addrs()[0]
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	login := func(password string) sshResult {
		return runTool(t, "", askpass(t, dir, password), "ssh", "-F", "/dev/null",
			"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
			"-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no",
			"-o", "NumberOfPasswordPrompts=1", "-p", port, me+"@127.0.0.1", "echo in")
	}
	if r := login("s3cret"); r.code != 0 || r.stdout != "in\n" {
		t.Fatalf("right password: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	s.waitFor(`login.*"method": "password"`, 5*time.Second)
	if r := login("wrong"); r.code != 255 || r.stdout != "" {
		t.Fatalf("wrong password: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	s.waitFor(`login failed.*wrong password`, 5*time.Second)
}

// echoTarget is a TCP echo server for the forwarding tests.
func echoTarget(t *testing.T) string {
	host, port := target(t, func(c *net.TCPConn) {
		defer c.Close()
		b := make([]byte, 1024)
		n, _ := c.Read(b)
		c.Write(b[:n])
	})
	return net.JoinHostPort(host, strconv.Itoa(port))
}

func TestConchForwardingOffByDefault(t *testing.T) {
	t.Parallel()
	f := startConch(t)
	tgt := echoTarget(t)
	r := f.ssh(t, "ping\n", "-W", tgt, "unused")
	if r.code != 255 || r.stdout != "" || !strings.Contains(r.stderr, "forwarding failed") {
		t.Fatalf("ssh -W with forwarding off: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	f.srv.waitFor(`forwarding refused: disabled`, 5*time.Second)
	r = f.ssh(t, "", "-o", "ExitOnForwardFailure=yes", "-R", "0:"+tgt, "echo connected")
	if r.code == 0 || !strings.Contains(r.stderr, "remote port forwarding failed") {
		t.Fatalf("ssh -R with forwarding off: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// Agent forwarding is never offered.
	if r := f.ssh(t, "", "-A", `echo "agent=$SSH_AUTH_SOCK"`); r.stdout != "agent=\n" {
		t.Fatalf("ssh -A: stdout %q", r.stdout)
	}
}

func TestConchForwardingWhenEnabled(t *testing.T) {
	t.Parallel()
	f := startConch(t, "--forwarding")
	tgt := echoTarget(t)
	r := f.ssh(t, "ping\n", "-W", tgt, "unused")
	if r.stdout != "ping\n" {
		t.Fatalf("ssh -W with forwarding on: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = f.ssh(t, "", "-o", "ExitOnForwardFailure=yes", "-R", "0:"+tgt,
		`echo connected`)
	if r.code != 0 || !strings.Contains(r.stdout, "connected") {
		t.Fatalf("ssh -R with forwarding on: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestConchCheckReportsBadKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := writeFile(t, dir, "app.yaml", `services:
  - type: ssh
    listen: tcp:2222
    auth: [authorized_keys, "file:missing.htpasswd", "kerberos"]
    max_auth_tries: 0
    forwardng: true
    ciphers: aes128-ctr,arcfour
`)
	r := twistd(t, dir, nil, "check", "-c", app)
	if r.code != 2 {
		t.Fatalf("check: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"app.yaml:4:", "missing.htpasswd", "kerberos", "app.yaml:5:", "max_auth_tries", "app.yaml:6:", "forwardng", "app.yaml:7:", `cipher "arcfour"`} {
		if !strings.Contains(r.stderr+r.stdout, want) {
			t.Errorf("check output lacks %q:\n%s%s", want, r.stdout, r.stderr)
		}
	}
}

func TestConchStopEndsSessionsAfterTheTimeout(t *testing.T) {
	needOpenSSH(t)
	dir := t.TempDir()
	key := sshKey(t, dir, "id_test")
	ak := writeFile(t, dir, "authorized_keys", pubKey(t, key))
	os.Chmod(ak, 0o600)
	hostKeys(t, dir)
	s := start(t, dir, nil, "-n", "--pidfile=", "--shutdown-timeout", "1s", "conch", "-p", "tcp:0:interface=127.0.0.1",
		"--data", "ssh", "--auth", "authorized_keys:"+ak)
	addr := s.addrs()[0]
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	marker := "twistd-conch-stop-" + strconv.Itoa(os.Getpid())
	cmd := exec.Command("ssh", append(sshOpts(key, port, "-p"), currentUser(t)+"@127.0.0.1", "exec -a "+marker+" sleep 60")...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line := s.waitFor(`session.*"pid": \d+`, 10*time.Second)
	pid, _ := strconv.Atoi(regexpFind(`"pid": (\d+)`, line))
	began := time.Now()
	s.signal(syscall.SIGTERM)
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("stop: exit %d", code)
	}
	if d := time.Since(began); d > 8*time.Second {
		t.Errorf("stop took %s with a 1s shutdown timeout", d)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the ssh client still runs after the server stopped")
	}
	// The session's program is gone, not left behind or a zombie.
	eventually(t, 5*time.Second, "the session's sleep to end", func() bool {
		return syscall.Kill(pid, 0) != nil
	})
}

func regexpFind(pattern, s string) string {
	if m := regexp.MustCompile(pattern).FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}
