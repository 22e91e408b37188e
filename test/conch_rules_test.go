package test

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// startConchApp runs an application file whose one service is ssh with
// the given extra keys, dir/authorized_keys holding a fresh key.
func startConchApp(t *testing.T, keysLine func(pub string) string, extra string) *conchFixture {
	t.Helper()
	needOpenSSH(t)
	dir := t.TempDir()
	key := sshKey(t, dir, "id_test")
	ak := writeFile(t, dir, "authorized_keys", keysLine(pubKey(t, key)))
	os.Chmod(ak, 0o600)
	hostKeys(t, dir)
	app := writeFile(t, dir, "app.yaml", `services:
  - type: ssh
    listen: tcp:0:interface=127.0.0.1
    auth: authorized_keys:authorized_keys
`+extra)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	addr := s.addrs()[0]
	return &conchFixture{srv: s, dir: dir, key: key, port: addr[strings.LastIndexByte(addr, ':')+1:], user: currentUser(t)}
}

func TestConchAuthorizedKeysOptions(t *testing.T) {
	t.Parallel()
	f := startConchApp(t, func(pub string) string {
		return `command="echo forced: $SSH_ORIGINAL_COMMAND",no-pty ` + pub
	}, "")
	if r := f.ssh(t, "", "echo hi"); r.code != 0 || r.stdout != "forced: echo hi\n" {
		t.Fatalf("command=: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := f.ssh(t, "", "-tt", "tty"); !strings.Contains(r.stderr, "PTY allocation request failed") || strings.Contains(r.stdout, "/dev/pts") {
		t.Fatalf("no-pty: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestConchUnsupportedKeyOptionGrantsNothing(t *testing.T) {
	t.Parallel()
	f := startConchApp(t, func(pub string) string { return `permitopen="127.0.0.1:80" ` + pub }, "")
	if r := f.ssh(t, "", "echo hi"); r.code != 255 || r.stdout != "" {
		t.Fatalf("permitopen= line: code %d, stdout %q", r.code, r.stdout)
	}
	f.srv.waitFor(`login failed.*permitopen.*not supported`, 5*time.Second)
}

func TestConchUsersList(t *testing.T) {
	t.Parallel()
	f := startConchApp(t, func(pub string) string { return pub }, "    users: [someone-else]\n")
	if r := f.ssh(t, "", "echo hi"); r.code != 255 || r.stdout != "" {
		t.Fatalf("user not in users: code %d, stdout %q", r.code, r.stdout)
	}
	f.srv.waitFor(`login failed.*not among the users`, 5*time.Second)
}

// A client that connects and never logs in is cut off at login_grace_time.
func TestConchLoginGraceTime(t *testing.T) {
	f := startConchApp(t, func(pub string) string { return pub }, "    login_grace_time: 1s\n")
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", f.port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	banner, err := bufio.NewReader(c).ReadString('\n')
	if !strings.HasPrefix(banner, "SSH-2.0-") {
		t.Fatalf("banner %q, %v", banner, err)
	}
	began := time.Now()
	_, err = io.Copy(io.Discard, c) // until the server closes
	if d := time.Since(began); err != nil || d > 5*time.Second {
		t.Fatalf("silent client: closed after %s (%v); want about 1s", d, err)
	}
	f.srv.waitFor(`login timed out`, 5*time.Second)
}

// SIGHUP re-reads the password file of an unchanged service.
func TestConchPasswordFileReload(t *testing.T) {
	t.Parallel()
	needOpenSSH(t)
	dir := t.TempDir()
	me := currentUser(t)
	entry := func(pw string) string {
		h, _ := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		return me + ":" + string(h) + "\n"
	}
	pw := writeFile(t, dir, "passwd", entry("first"))
	hostKeys(t, dir)
	s := start(t, dir, nil, "-n", "--pidfile=", "conch", "-p", "tcp:0:interface=127.0.0.1", "--data", "ssh", "--auth", "file:"+pw)
	addr := s.addrs()[0]
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	login := func(password string) sshResult {
		return runTool(t, "", askpass(t, dir, password), "ssh", "-F", "/dev/null",
			"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
			"-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=1", "-p", port, me+"@127.0.0.1", "echo in")
	}
	if r := login("first"); r.stdout != "in\n" {
		t.Fatalf("first password: %+v", r)
	}
	os.WriteFile(filepath.Join(dir, "passwd"), []byte(entry("second")), 0o644)
	s.signal(syscall.SIGHUP)
	s.waitFor(`reload succeeded`, 10*time.Second)
	if r := login("second"); r.stdout != "in\n" {
		t.Fatalf("second password after the reload: %+v", r)
	}
	if r := login("first"); r.stdout != "" {
		t.Fatalf("the old password still works after the reload: %+v", r)
	}
}
