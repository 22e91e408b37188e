package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// accounts numbers the test accounts of this process, and accountsMu
// keeps its useradd and userdel runs apart: tests run in parallel, and
// two at once may fail to lock /etc/passwd.
var (
	accounts   atomic.Int64
	accountsMu sync.Mutex
)

// testAccount creates a system user with its home in a fresh directory
// (removed with the user at the end of the test); it skips unless we
// are root with useradd.
func testAccount(t *testing.T) (name, home string, uid int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a user")
	}
	if _, err := exec.LookPath("useradd"); err != nil {
		t.Skip("no useradd")
	}
	base, err := os.MkdirTemp("", "twistd-conch-home-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(base, 0o755)
	name = fmt.Sprintf("tc%d%d", os.Getpid()%100000, accounts.Add(1))
	home = filepath.Join(base, name)
	accountsMu.Lock()
	out, err := exec.Command("useradd", "-m", "-d", home, "-s", "/bin/sh", "-U", name).CombinedOutput()
	accountsMu.Unlock()
	if err != nil {
		os.RemoveAll(base)
		t.Skipf("useradd: %v %s", err, out)
	}
	t.Cleanup(func() {
		exec.Command("pkill", "-KILL", "-u", name).Run()
		accountsMu.Lock()
		exec.Command("userdel", "-f", name).Run()
		accountsMu.Unlock()
		os.RemoveAll(base)
	})
	st, err := os.Stat(home)
	if err != nil {
		t.Fatal(err)
	}
	return name, home, int(st.Sys().(*syscall.Stat_t).Uid)
}

// As root, a login runs as the user: its uid, groups, home, shell and
// files, and its own ~/.ssh/authorized_keys is read (the default auth).
func TestConchRunsAsTheUser(t *testing.T) {
	t.Parallel()
	needOpenSSH(t, "sftp")
	name, home, uid := testAccount(t)
	dir := t.TempDir()
	key := sshKey(t, dir, "id_user")
	ssh := filepath.Join(home, ".ssh")
	os.Mkdir(ssh, 0o700)
	os.WriteFile(filepath.Join(ssh, "authorized_keys"), []byte(pubKey(t, key)), 0o600)
	os.Chown(ssh, uid, uid)
	os.Chown(filepath.Join(ssh, "authorized_keys"), uid, uid)
	hostKeys(t, dir)
	s := start(t, dir, nil, "-n", "--pidfile=", "conch", "-p", "tcp:0:interface=127.0.0.1", "--data", "ssh")
	addr := s.addrs()[0]
	f := &conchFixture{srv: s, dir: dir, key: key, port: addr[strings.LastIndexByte(addr, ':')+1:], user: name}

	r := f.ssh(t, "", `id -u; id -un; echo "$HOME|$SHELL|$USER"; pwd; touch made-by-exec`)
	want := fmt.Sprintf("%d\n%s\n%s|/bin/sh|%s\n%s\n", uid, name, home, name, home)
	if r.code != 0 || r.stdout != want {
		t.Fatalf("as %s: code %d, stdout %q, want %q; stderr %q", name, r.code, r.stdout, want, r.stderr)
	}
	if st, err := os.Stat(filepath.Join(home, "made-by-exec")); err != nil || int(st.Sys().(*syscall.Stat_t).Uid) != uid {
		t.Fatalf("file made in the session: %v, want owned by %d", err, uid)
	}
	// The PTY belongs to the user.
	r = f.ssh(t, "", "-tt", `stat -c %u $(tty)`)
	if got := strings.TrimSpace(r.stdout); got != strconv.Itoa(uid) {
		t.Fatalf("tty owner %q, want %d (stderr %q)", got, uid, r.stderr)
	}

	// SFTP runs as the user, in the user's home: it may write there, and
	// not where the user may not.
	local := writeFile(t, dir, "up.txt", "hello\n")
	batch := writeFile(t, dir, "batch", "pwd\nput "+local+" up.txt\n")
	r = runTool(t, "", nil, "sftp", append(sshOpts(key, f.port, "-P"), "-b", batch, name+"@127.0.0.1")...)
	if r.code != 0 || !strings.Contains(r.stdout, "Remote working directory: "+home) {
		t.Fatalf("sftp: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	st, err := os.Stat(filepath.Join(home, "up.txt"))
	if err != nil || int(st.Sys().(*syscall.Stat_t).Uid) != uid {
		t.Fatalf("sftp upload: %v; want a file owned by uid %d", err, uid)
	}
	// Beside the home, in a directory anyone may enter.
	secret := writeFile(t, filepath.Dir(home), "root-only", "secret\n")
	os.Chmod(secret, 0o600)
	batch = writeFile(t, dir, "batch2", "get "+secret+" "+filepath.Join(dir, "stolen")+"\n")
	r = runTool(t, "", nil, "sftp", append(sshOpts(key, f.port, "-P"), "-b", batch, name+"@127.0.0.1")...)
	if r.code == 0 || !strings.Contains(r.stderr, "Permission denied") {
		t.Fatalf("sftp get of a root-only file: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	// A group- or world-writable authorized_keys is not trusted (StrictModes).
	os.Chmod(filepath.Join(ssh, "authorized_keys"), 0o666)
	if r := f.ssh(t, "", "echo hi"); r.code != 255 {
		t.Fatalf("writable authorized_keys: code %d, stdout %q", r.code, r.stdout)
	}
	s.waitFor(`login failed.*writable by group or others`, 5*time.Second)
}

// Under -u, twistd is that user: only it may log in, and SFTP is served
// in process with exactly its rights.
func TestConchUnderUidOnlyThatUser(t *testing.T) {
	t.Parallel()
	needOpenSSH(t, "sftp")
	name, home, uid := testAccount(t)
	dir := t.TempDir()
	key := sshKey(t, dir, "id_user")
	ssh := filepath.Join(home, ".ssh")
	os.Mkdir(ssh, 0o700)
	os.WriteFile(filepath.Join(ssh, "authorized_keys"), []byte(pubKey(t, key)), 0o600)
	os.Chown(ssh, uid, uid)
	os.Chown(filepath.Join(ssh, "authorized_keys"), uid, uid)
	hostKeys(t, dir)
	s := start(t, dir, nil, "-n", "--pidfile=", "-u", name, "-g", name, "conch", "-p", "tcp:0:interface=127.0.0.1", "--data", "ssh")
	addr := s.addrs()[0]
	f := &conchFixture{srv: s, dir: dir, key: key, port: addr[strings.LastIndexByte(addr, ':')+1:], user: name}
	if r := f.ssh(t, "", "id -un"); r.code != 0 || r.stdout != name+"\n" {
		t.Fatalf("as %s under -u: code %d, stdout %q, stderr %q", name, r.code, r.stdout, r.stderr)
	}
	if r := f.sshAs(t, "root", key, "", "id -un"); r.code != 255 {
		t.Fatalf("root under -u %s: code %d, stdout %q", name, r.code, r.stdout)
	}
	s.waitFor(`login failed.*twistd runs as `+name+`, not as root: only `+name+` may log in`, 5*time.Second)
	payload := strings.Repeat("0123456789abcdef", 1<<16)
	local := filepath.Join(filepath.Dir(home), "up.txt") // where the user may read it
	os.WriteFile(local, []byte(payload), 0o644)
	batch := filepath.Join(filepath.Dir(home), "batch")
	os.WriteFile(batch, []byte("put "+local+" up.txt\nget up.txt "+home+"/back.txt\n"), 0o644)
	r := runTool(t, "", nil, "sftp", append(sshOpts(key, f.port, "-P"), "-b", batch, name+"@127.0.0.1")...)
	if r.code != 0 {
		t.Fatalf("sftp under -u: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	got, err := os.ReadFile(filepath.Join(home, "up.txt"))
	if err != nil || string(got) != payload {
		t.Fatalf("sftp upload under -u: %d bytes, %v", len(got), err)
	}
	s.waitFor(`session.*"kind": "sftp"`, 5*time.Second)
}
