package test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const conchApp = `admin:
  listen: tcp:0:interface=127.0.0.1
services:
  - name: shell
    type: ssh
    listen: tcp:0:interface=127.0.0.1
    data: ssh
    auth: ["authorized_keys:authorized_keys"]
    max_sessions: %d
`

// The application file: /metrics counts logins, /status the connections,
// and a reload of the changed service keeps its socket and lets the
// session in flight finish.
func TestConchAppMetricsStatusAndReload(t *testing.T) {
	t.Parallel()
	needOpenSSH(t)
	dir := t.TempDir()
	key := sshKey(t, dir, "id_test")
	ak := writeFile(t, dir, "authorized_keys", pubKey(t, key))
	os.Chmod(ak, 0o600)
	hostKeys(t, dir)
	app := writeFile(t, dir, "app.yaml", fmt.Sprintf(conchApp, 10))
	if r := twistd(t, dir, nil, "check", "-c", app); r.code != 0 {
		t.Fatalf("check: %d %s %s", r.code, r.stdout, r.stderr)
	}
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	a := s.addrs()
	base, addr := "http://"+a[0], a[1]
	f := &conchFixture{srv: s, dir: dir, key: key, port: addr[strings.LastIndexByte(addr, ':')+1:], user: currentUser(t)}
	if r := f.ssh(t, "", "echo hi"); r.stdout != "hi\n" {
		t.Fatalf("login: %+v", r)
	}
	f.sshAs(t, f.user, sshKey(t, dir, "id_other"), "", "echo hi")
	s.waitFor(`login failed`, 5*time.Second)
	_, metrics, _ := httpGet(t, base+"/metrics")
	for _, want := range []string{
		`twistd_ssh_logins_total{result="ok",service="shell"} 1`,
		`twistd_ssh_logins_total{result="failed",service="shell"} 1`,
		`twistd_ssh_channels_total{kind="exec",service="shell"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	_, body, _ := httpGet(t, base+"/status", "Accept", "application/json")
	var st statusDoc
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Services) != 1 || st.Services[0].Name != "shell" || st.Services[0].Type != "ssh" || st.Services[0].ConnectionsTotal < 2 {
		t.Fatalf("/status services: %s", body)
	}

	// A session in flight across a reload that changes the service.
	cmd := exec.Command("ssh", append(sshOpts(key, f.port, "-p"), f.user+"@127.0.0.1", "echo started; sleep 2; echo survived")...)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	first := make([]byte, 8)
	if _, err := out.Read(first); err != nil || string(first) != "started\n" {
		t.Fatalf("session start: %q %v", first, err)
	}
	if line := reloadTo(t, s, app, fmt.Sprintf(conchApp, 5), 1); !strings.Contains(line, "succeeded") {
		t.Fatalf("reload: %s", line)
	}
	if r := f.ssh(t, "", "echo after reload"); r.stdout != "after reload\n" {
		t.Fatalf("login after the reload: %+v", r)
	}
	rest := make([]byte, 64)
	n, _ := out.Read(rest)
	if got := string(rest[:n]); got != "survived\n" {
		t.Fatalf("session across the reload ended with %q", got)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("session across the reload: %v", err)
	}
}

// The seeds' one-liner: no --data, no --auth. Host keys go to ./ssh
// beside where the command was typed.
func TestConchOneLinerDefaults(t *testing.T) {
	t.Parallel()
	needOpenSSH(t, "ssh-keyscan")
	dir := t.TempDir()
	s := startNoWait(t, dir, nil, "-n", "--pidfile=", "conch", "-p", "tcp:0:interface=127.0.0.1")
	// Making the RSA host key before ready takes seconds of CPU, many
	// more on a machine busy with the tests running beside this one.
	s.waitFor(`\bready\b`, 60*time.Second)
	addr := s.addrs()[0]
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	for _, n := range []string{"ssh_host_ed25519_key", "ssh_host_rsa_key"} {
		if st, err := os.Stat(filepath.Join(dir, "ssh", n)); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v", n, err)
		}
	}
	r := runTool(t, "", nil, "ssh-keyscan", "-p", port, "127.0.0.1")
	if !strings.Contains(r.stdout, "ssh-ed25519") {
		t.Fatalf("ssh-keyscan: %q %q", r.stdout, r.stderr)
	}
	if r := twistd(t, dir, nil, "plugins"); !strings.Contains(r.stdout, "conch") || !strings.Contains(r.stdout, "ssh") {
		t.Fatalf("plugins: %s", r.stdout)
	}
}

// While an SFTP session runs, the process's collector runs less often
// (GOGC 400, the bulk-transfer knob of internal/cli/knobs.go: the SSH
// library allocates a fresh copy of every packet it decrypts); when the
// session ends, GOGC is 100 again. Other sessions leave it alone.
func TestConchSFTPSessionRaisesGOGC(t *testing.T) {
	t.Parallel()
	needOpenSSH(t, "sftp")
	dir := t.TempDir()
	key := sshKey(t, dir, "id_test")
	ak := writeFile(t, dir, "authorized_keys", pubKey(t, key))
	os.Chmod(ak, 0o600)
	hostKeys(t, dir)
	app := writeFile(t, dir, "app.yaml", fmt.Sprintf(conchApp, 10))
	s := start(t, dir, []string{"GOGC="}, "-n", "--pidfile=", "-c", app)
	a := s.addrs()
	base, addr := "http://"+a[0], a[1]
	f := &conchFixture{srv: s, dir: dir, key: key, port: addr[strings.LastIndexByte(addr, ':')+1:], user: currentUser(t)}
	gogc := func() float64 { return metricValue(t, base, "go_gc_gogc_percent") }
	if g := gogc(); g != 100 {
		t.Fatalf("GOGC %v before any session, want 100", g)
	}
	if r := f.ssh(t, "", "echo hi"); r.stdout != "hi\n" {
		t.Fatalf("exec session: %+v", r)
	}
	if g := gogc(); g != 100 {
		t.Fatalf("GOGC %v after an exec session, want 100", g)
	}

	cmd := exec.Command("sftp", append(sshOpts(key, f.port, "-P"), "-b", "-", f.user+"@127.0.0.1")...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	fmt.Fprintln(in, "pwd")
	// sftp echoes the command, then answers it.
	sc := bufio.NewScanner(out)
	for sc.Scan() && !strings.Contains(sc.Text(), "Remote working directory") {
	}
	if sc.Err() != nil || !strings.Contains(sc.Text(), "Remote working directory") {
		t.Fatalf("sftp pwd: no answer (%v)", sc.Err())
	}
	if g := gogc(); g != 400 {
		t.Errorf("GOGC %v during an SFTP session, want 400", g)
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sftp: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for gogc() != 100 {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC %v 10s after the SFTP session ended, want 100", gogc())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
