package test

import (
	"os"
	"runtime"
	"strings"
	"testing"
)

// chacha20IsSlowHere reports what the server decides from: an amd64
// processor with AES and carry-less multiply instructions, where
// x/crypto's ChaCha20 has no assembly and AES-GCM has.
func chacha20IsSlowHere(t *testing.T) bool {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		return false
	}
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Skipf("cannot tell the processor's instructions: %v", err)
	}
	for _, line := range strings.Split(string(info), "\n") {
		if strings.HasPrefix(line, "flags") {
			f := " " + line + " "
			return strings.Contains(f, " aes ") && strings.Contains(f, " pclmulqdq ")
		}
	}
	return false
}

// The ciphers offered: by default no chacha20-poly1305 where it would be
// slow (a client that wants only it is refused, and OpenSSH's client,
// which prefers it, agrees on AES), every other secure cipher; --ciphers
// in sshd_config's syntax brings it back or narrows the list.
func TestConchCiphers(t *testing.T) {
	t.Parallel()
	slow := chacha20IsSlowHere(t)
	withCipher := func(f *conchFixture, c string) sshResult {
		t.Helper()
		// LogLevel INFO, so that a refusal's "no matching cipher" shows.
		a := append([]string{"-o", "LogLevel=INFO", "-o", "Ciphers=" + c}, sshOpts(f.key, f.port, "-p")...)
		return runTool(t, "", nil, "ssh", append(a, f.user+"@127.0.0.1", "echo hi")...)
	}
	def := startConch(t)
	for _, c := range []string{"aes128-ctr", "aes256-ctr", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com"} {
		if r := withCipher(def, c); r.code != 0 || r.stdout != "hi\n" {
			t.Errorf("default ciphers, client offering only %s: %+v", c, r)
		}
	}
	r := withCipher(def, "chacha20-poly1305@openssh.com")
	if slow && (r.code == 0 || !strings.Contains(r.stderr, "no matching cipher")) {
		t.Errorf("default ciphers on a processor with AES: chacha20-poly1305 was not refused: %+v", r)
	}
	if !slow && r.stdout != "hi\n" {
		t.Errorf("default ciphers without AES instructions: chacha20-poly1305 refused: %+v", r)
	}
	if r := def.ssh(t, "", "echo hi"); r.stdout != "hi\n" {
		t.Errorf("OpenSSH's default client ciphers: %+v", r)
	}

	plus := startConch(t, "--ciphers", "+chacha20-poly1305@openssh.com")
	if r := withCipher(plus, "chacha20-poly1305@openssh.com"); r.stdout != "hi\n" {
		t.Errorf("--ciphers +chacha20-poly1305: %+v", r)
	}
	only := startConch(t, "--ciphers", "aes256-gcm@openssh.com")
	if r := withCipher(only, "aes256-gcm@openssh.com"); r.stdout != "hi\n" {
		t.Errorf("--ciphers aes256-gcm: %+v", r)
	}
	if r := withCipher(only, "aes128-ctr"); r.code == 0 || !strings.Contains(r.stderr, "no matching cipher") {
		t.Errorf("--ciphers aes256-gcm let aes128-ctr in: %+v", r)
	}

	bad := twistd(t, t.TempDir(), nil, "-n", "--pidfile=", "conch", "-p", "tcp:0:interface=127.0.0.1", "--ciphers", "aes128-ctr,aes128-cbc")
	if bad.code == 0 || !strings.Contains(bad.stderr, `cipher "aes128-cbc"`) || !strings.Contains(bad.stderr, "aes128-gcm@openssh.com") {
		t.Errorf("--ciphers with an unsupported cipher: code %d, stderr %q", bad.code, bad.stderr)
	}
}
