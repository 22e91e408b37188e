package logging

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestSyslogSeverities(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	pc, err := net.ListenPacket("unixgram", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	l, err := New(Options{Syslog: true, SyslogSocket: sock, Prefix: "tw", Format: "console", Level: "debug"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	svc := l.Named("site")
	svc.Debug("d")
	svc.Info("i")
	svc.Warn("w")
	svc.Error("e")
	svc.DPanic("dp") // production logger: logged, no panic
	// daemon (3) << 3 | severity: debug 7, info 6, warning 4, err 3, crit 2.
	for _, want := range []struct {
		pri int
		msg string
	}{{31, "d"}, {30, "i"}, {28, "w"}, {27, "e"}, {26, "dp"}} {
		buf := make([]byte, 4096)
		pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		got := string(buf[:n])
		re := regexp.MustCompile(fmt.Sprintf(`^<%d>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d tw\[%d\]: .*\[site\]  %s$`, want.pri, os.Getpid(), want.msg))
		if !re.MatchString(got) {
			t.Errorf("got %q, want <%d> and %q", got, want.pri, want.msg)
		}
	}
}

func TestSyslogStreamSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	l, err := New(Options{Syslog: true, SyslogSocket: sock, Prefix: "tw", Format: "json", Level: "info"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l.Warn("one")
	l.Info("two")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	for _, want := range []string{"<28>", "<30>"} {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(line, want) || !strings.Contains(line, `"msg":"`) {
			t.Errorf("got %q, want a newline-ended message starting %s", line, want)
		}
	}
}

func TestSyslogMissingSocketNamesIt(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "nothing")
	_, err := New(Options{Syslog: true, SyslogSocket: sock, Prefix: "tw", Format: "console", Level: "info"})
	if err == nil || !strings.Contains(err.Error(), sock) {
		t.Fatalf("got %v, want an error naming %s", err, sock)
	}
}
