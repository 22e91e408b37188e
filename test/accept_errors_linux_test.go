package test

import (
	"crypto/tls"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// An ENOBUFS burst on accept (injected with strace) is survived by every
// listener — the TLS web site and the admin endpoint included, which
// net/http's Serve used to give up on for good: accepts back off and
// resume, and the process stays ready.
func TestAcceptErrorBurstIsSurvived(t *testing.T) {
	t.Parallel()
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace is not installed")
	}
	dir := t.TempDir()
	selfSigned(t, dir)
	writeFile(t, dir, "public/a.txt", "a")
	app := writeFile(t, dir, "app.yaml", `
admin:
  listen: tcp:0:interface=127.0.0.1
services:
  - name: site
    type: web
    listen: ssl:0:interface=127.0.0.1:privateKey=key.pem:certKey=cert.pem
    path: ./public
`)
	cmd := exec.Command(strace, "-f", "-qq", "-o", "/dev/null", "-e", "trace=accept4",
		"-e", "inject=accept4:error=ENOBUFS:when=1..3", binary, "-n", "--pidfile=", "-c", app)
	cmd.Dir = dir
	s := startCmd(t, cmd)
	line := s.waitFor(`twistd starting`, 15*time.Second)
	m := regexp.MustCompile(`"pid": (\d+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no pid in %q", line)
	}
	pid, _ := strconv.Atoi(m[1])
	// strace detaches rather than kills when it is killed: stop twistd first.
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	s.waitFor(`\bready\b`, 15*time.Second)
	addrs := s.addrs()
	admin, site := "http://"+addrs[0], "https://"+addrs[1]

	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}}
	get := func(url string) int {
		resp, err := client.Get(url)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	eventually(t, 30*time.Second, "the TLS site and the admin endpoint answering through the burst", func() bool {
		return get(site+"/a.txt") == 200 && get(admin+"/readyz") == 200
	})
	s.waitFor(`accept failed; pausing accepts.*no buffer space`, 5*time.Second)
	// Past the burst, both keep answering and nothing is reported failed.
	for i := 0; i < 20; i++ {
		if code := get(site + "/a.txt"); code != 200 {
			t.Fatalf("site after the burst: %d", code)
		}
		if code := get(admin + "/readyz"); code != 200 {
			t.Fatalf("/readyz after the burst: %d", code)
		}
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
