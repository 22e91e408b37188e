package test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// needOpenSSH skips a test when the OpenSSH client tools are missing.
func needOpenSSH(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range append([]string{"ssh", "ssh-keygen"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (apt-get install openssh-client)", tool)
		}
	}
}

// sshKey makes a client key pair in dir and returns the private key's path.
func sshKey(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", p).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	return p
}

func pubKey(t *testing.T, key string) string {
	t.Helper()
	b, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	hostKeysOnce sync.Once
	hostKeysDir  string
	hostKeysErr  error
)

// hostKeys copies a set of host keys made once by ssh-keygen into
// dir/ssh, so tests do not each wait for an RSA key to be generated.
func hostKeys(t *testing.T, dir string) string {
	t.Helper()
	hostKeysOnce.Do(func() {
		// Beside the test binary, which TestMain removes at the end.
		hostKeysDir, hostKeysErr = os.MkdirTemp(filepath.Dir(binary), "hostkeys-")
		if hostKeysErr != nil {
			return
		}
		for _, k := range [][]string{{"ed25519"}, {"rsa", "-b", "3072"}} {
			args := append([]string{"-q", "-N", "", "-t"}, k...)
			args = append(args, "-f", filepath.Join(hostKeysDir, "ssh_host_"+k[0]+"_key"))
			if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
				hostKeysErr = err
				hostKeysDir = string(out)
				return
			}
		}
	})
	if hostKeysErr != nil {
		t.Fatalf("ssh-keygen host keys: %v %s", hostKeysErr, hostKeysDir)
	}
	data := filepath.Join(dir, "ssh")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"ssh_host_ed25519_key", "ssh_host_rsa_key"} {
		b, err := os.ReadFile(filepath.Join(hostKeysDir, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return data
}

func currentUser(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

// conchFixture is a running twistd conch with one authorized key.
type conchFixture struct {
	srv  *server
	dir  string
	key  string
	port string
	user string
}

// startConch runs `twistd conch` on an ephemeral port with dir/authorized_keys
// holding a fresh key; extra are more conch flags.
func startConch(t *testing.T, extra ...string) *conchFixture {
	t.Helper()
	needOpenSSH(t)
	dir := t.TempDir()
	key := sshKey(t, dir, "id_test")
	ak := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(ak, []byte(pubKey(t, key)), 0o600); err != nil {
		t.Fatal(err)
	}
	data := hostKeys(t, dir)
	args := append([]string{"-n", "--pidfile=", "conch", "-p", "tcp:0:interface=127.0.0.1",
		"--data", data, "--auth", "authorized_keys:" + ak}, extra...)
	s := start(t, dir, nil, args...)
	addr := s.addrs()[0]
	return &conchFixture{srv: s, dir: dir, key: key, port: addr[strings.LastIndexByte(addr, ':')+1:], user: currentUser(t)}
}

// sshOpts are the options every test client uses.
func sshOpts(key, port string, portFlag string) []string {
	return []string{"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes",
		"-o", "ConnectTimeout=10", "-F", "/dev/null", "-i", key, portFlag, port}
}

type sshResult struct {
	code           int
	stdout, stderr string
}

// runTool runs an OpenSSH tool with a time limit.
func runTool(t *testing.T, stdin string, env []string, name string, args ...string) sshResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	_ = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %v did not finish in 30s; stderr: %s", name, args, errb.String())
	}
	return sshResult{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
}

// ssh runs a command over SSH as the fixture's user with its key.
func (f *conchFixture) ssh(t *testing.T, stdin string, args ...string) sshResult {
	t.Helper()
	return f.sshAs(t, f.user, f.key, stdin, args...)
}

func (f *conchFixture) sshAs(t *testing.T, user, key, stdin string, args ...string) sshResult {
	t.Helper()
	a := append(sshOpts(key, f.port, "-p"), args[:len(args)-1]...)
	a = append(a, user+"@127.0.0.1", args[len(args)-1])
	return runTool(t, stdin, nil, "ssh", a...)
}
