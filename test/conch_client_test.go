package test

import (
	"bufio"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// goClient logs in with the fixture's key through x/crypto/ssh, for what
// OpenSSH's client cannot be told to do from a script (window changes,
// signals).
func (f *conchFixture) goClient(t *testing.T) *ssh.Client {
	t.Helper()
	b, err := os.ReadFile(f.key)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", net.JoinHostPort("127.0.0.1", f.port), &ssh.ClientConfig{
		User:            f.user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestConchWindowChangeAndSignal(t *testing.T) {
	t.Parallel()
	f := startConch(t)
	sess, err := f.goClient(t).NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("vt100", 24, 80, ssh.TerminalModes{ssh.ECHO: 0}); err != nil {
		t.Fatal(err)
	}
	stdin, _ := sess.StdinPipe()
	stdout, _ := sess.StdoutPipe()
	// ECHO off (the mode sent above): the newline we type is not echoed
	// back as an empty line; stty -a shows -echo.
	if err := sess.Start(`stty size; stty -a | grep -o -- ' -echo '; while read x; do stty size; done`); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- strings.TrimSpace(sc.Text())
		}
		close(lines)
	}()
	next := func() string {
		select {
		case l := <-lines:
			return l
		case <-time.After(10 * time.Second):
			t.Fatal("no output within 10s")
		}
		return ""
	}
	if got := next(); got != "24 80" {
		t.Fatalf("first size %q, want 24 80", got)
	}
	if got := next(); got != "-echo" {
		t.Fatalf("stty -a: %q, want -echo", got)
	}
	if err := sess.WindowChange(50, 132); err != nil {
		t.Fatal(err)
	}
	// The request and the typed newline travel apart from the channel's
	// multiplexer on (x/crypto/ssh hands requests and data to separate
	// readers), so the first size read after it may still be the old
	// one: ask until the new one shows.
	for deadline := time.Now().Add(5 * time.Second); ; {
		stdin.Write([]byte("\n"))
		got := next()
		if got == "50 132" {
			break
		}
		if got != "24 80" || time.Now().After(deadline) {
			t.Fatalf("size after window-change %q, want 50 132", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := sess.Signal(ssh.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err := <-done:
		var ee *ssh.ExitError
		if !errors.As(err, &ee) || ee.Signal() != "TERM" {
			t.Fatalf("after SIGTERM: %v, want exit-signal TERM", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the program did not end on SIGTERM")
	}
}

func TestConchSessionLimitAndRefusedRequests(t *testing.T) {
	t.Parallel()
	f := startConch(t)
	c := f.goClient(t)
	// Agent and X11 forwarding are refused, unknown subsystems too.
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []string{"auth-agent-req@openssh.com", "x11-req"} {
		if ok, err := sess.SendRequest(req, true, nil); ok || err != nil {
			t.Errorf("%s: ok=%v err=%v, want refused", req, ok, err)
		}
	}
	if err := sess.RequestSubsystem("netconf"); err == nil {
		t.Error("subsystem netconf accepted")
	}
	// At most 10 sessions at once on one connection (sshd's MaxSessions).
	var open []*ssh.Session
	for range 10 {
		s, err := c.NewSession()
		if err != nil {
			break
		}
		open = append(open, s)
	}
	if _, err := c.NewSession(); err == nil || len(open) != 9 {
		t.Fatalf("sessions: %d more opened beside the first, then %v; want 9 and a refusal", len(open), err)
	}
}
