package mail

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"go.uber.org/zap"
)

func TestParsePOP3(t *testing.T) {
	for _, c := range []struct {
		line string
		name string
		args []string
		bad  bool
	}{
		{line: "USER alice", name: "USER", args: []string{"alice"}},
		{line: "pass two words ", name: "PASS", args: []string{"two words "}},
		{line: "top 1 10", name: "TOP", args: []string{"1", "10"}},
		{line: "STAT", name: "STAT"},
		{line: "LIST  1", bad: true},
		{line: "RETR 1 2 3", bad: true},
		{line: "RE", bad: true},
		{line: "QUITS", bad: true},
		{line: "US3R x", bad: true},
		{line: "USER a\x00b", bad: true},
		{line: strings.Repeat("A", maxPOP3Line+1), bad: true},
	} {
		cmd, err := parsePOP3(c.line)
		if c.bad {
			if err == nil {
				t.Errorf("%q: parsed as %+v, want an error", c.line, cmd)
			}
			continue
		}
		if err != nil || cmd.name != c.name || strings.Join(cmd.args, "|") != strings.Join(c.args, "|") {
			t.Errorf("%q: got %+v %v, want %s %q", c.line, cmd, err, c.name, c.args)
		}
	}
}

func FuzzParsePOP3(f *testing.F) {
	for _, s := range []string{"USER alice", "PASS x y", "TOP 1 0", "LIST", "UIDL 3", "", " ", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cmd, err := parsePOP3(line)
		if err != nil {
			return
		}
		if len(cmd.name) < 3 || len(cmd.name) > 4 || strings.ToUpper(cmd.name) != cmd.name {
			t.Fatalf("%q: bad name %q", line, cmd.name)
		}
		if cmd.name != "PASS" && len(cmd.args) > 2 {
			t.Fatalf("%q: %d args", line, len(cmd.args))
		}
	})
}

func TestLFWriter(t *testing.T) {
	in := "a\r\nb\rc\r\n\r\n.\r\nend\r"
	want := "a\nb\rc\n\n.\nend\r"
	for size := 1; size <= len(in); size++ {
		var out bytes.Buffer
		lf := &lfWriter{w: &out}
		for i := 0; i < len(in); i += size {
			if _, err := lf.Write([]byte(in[i:min(i+size, len(in))])); err != nil {
				t.Fatal(err)
			}
		}
		if err := lf.flush(); err != nil {
			t.Fatal(err)
		}
		if out.String() != want {
			t.Fatalf("chunks of %d: got %q, want %q", size, out.String(), want)
		}
	}
}

func maildirs(t *testing.T, names ...string) []string {
	t.Helper()
	root := t.TempDir()
	var dirs []string
	for _, n := range names {
		d := filepath.Join(root, n)
		if err := makeMaildir(d); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	return dirs
}

func count(t *testing.T, dir string) int {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(des)
}

func TestDeliverIsAllOrNothing(t *testing.T) {
	dirs := maildirs(t, "alice", "bob")
	if err := deliver(dirs, "h", []byte("Received: x\n"), strings.NewReader("Subject: s\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if count(t, filepath.Join(d, "new")) != 1 || count(t, filepath.Join(d, "tmp")) != 0 {
			t.Fatalf("%s: want one message in new, none in tmp", d)
		}
		des, _ := os.ReadDir(filepath.Join(d, "new"))
		got, _ := os.ReadFile(filepath.Join(d, "new", des[0].Name()))
		if string(got) != "Received: x\nSubject: s\n\nbody\n" {
			t.Fatalf("stored %q", got)
		}
		named, ok := nameSize(des[0].Name())
		counted, err := wireSize(filepath.Join(d, "new", des[0].Name()))
		if !ok || err != nil || named != counted || named != int64(len(got)+4) {
			t.Fatalf("%s: W=%d (%v), counted %d (%v), file %d", des[0].Name(), named, ok, counted, err, len(got))
		}
	}
	// A reader that fails half-way (the peer gone, a size limit) leaves nothing.
	boom := errors.New("peer gone")
	dirs = maildirs(t, "carol")
	err := deliver(dirs, "h", nil, io.MultiReader(strings.NewReader("half"), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the reader's error as it is", err)
	}
	if count(t, filepath.Join(dirs[0], "new")) != 0 || count(t, filepath.Join(dirs[0], "tmp")) != 0 {
		t.Fatal("a failed delivery left a file")
	}
}

func TestUniqueNames(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		n := uniqueName("a/b:c")
		if seen[n] || strings.ContainsAny(n, "/:") {
			t.Fatalf("name %q repeated or unsafe", n)
		}
		seen[n] = true
	}
}

// testService is a mail service with one domain and alice, for POP3 sessions.
func testService(t testing.TB) (*mailService, string) {
	t.Helper()
	dir := t.TempDir()
	m := &mailService{opts: defaults(), domains: map[string]string{"localhost": dir},
		guard: newGuard(time.Millisecond, 3, time.Minute), log: zap.NewNop()}
	m.opts.Hostname = "localhost"
	m.userDB.Store(newUsers(map[string]string{"alice": "secret"}, nil))
	if err := makeMaildir(filepath.Join(dir, "alice")); err != nil {
		t.Fatal(err)
	}
	return m, dir
}

// pop3Talk runs a POP3 session on a pipe with the given input and returns
// everything the server wrote.
func pop3Talk(t testing.TB, m *mailService, input string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err == nil {
			m.servePOP3(c, false)
		}
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	_ = client.SetDeadline(time.Now().Add(10 * time.Second))
	var out bytes.Buffer
	readDone := make(chan struct{})
	go func() { _, _ = io.Copy(&out, client); close(readDone) }()
	_, _ = client.Write([]byte(input))
	_ = client.(*net.TCPConn).CloseWrite()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("session hung on %q", input)
	}
	<-readDone
	return out.String()
}

func TestPOP3Session(t *testing.T) {
	m, dir := testService(t)
	if err := deliver([]string{filepath.Join(dir, "alice")}, "h", nil, strings.NewReader("Subject: a\r\n\r\n.dot\r\nline2\r\n")); err != nil {
		t.Fatal(err)
	}
	// With a pipe, each reply must be read before the next command is
	// written; run the commands one by one with a scripted client.
	client, srv := net.Pipe()
	go m.servePOP3(srv, false)
	defer client.Close()
	_ = client.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(client)
	line := func() string {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimRight(l, "\r\n")
	}
	multi := func() []string {
		var ls []string
		for l := line(); l != "."; l = line() {
			ls = append(ls, l)
		}
		return ls
	}
	send := func(cmd string) string {
		if _, err := client.Write([]byte(cmd + "\r\n")); err != nil {
			t.Fatal(err)
		}
		return line()
	}
	if l := line(); !strings.HasPrefix(l, "+OK") {
		t.Fatal(l)
	}
	if l := send("STAT"); !strings.HasPrefix(l, "-ERR") {
		t.Fatalf("STAT before login: %s", l)
	}
	send("USER alice")
	if l := send("PASS secret"); l != "+OK 1 messages (27 octets)" {
		t.Fatalf("login: %s", l)
	}
	if l := send("LIST 1"); l != "+OK 1 27" {
		t.Fatal(l)
	}
	send("RETR 1")
	if got := strings.Join(multi(), "|"); got != "Subject: a||..dot|line2" {
		t.Fatalf("RETR: %q", got)
	}
	send("TOP 1 0")
	if got := strings.Join(multi(), "|"); got != "Subject: a|" {
		t.Fatalf("TOP 1 0: %q", got)
	}
	if l := send("DELE 1"); !strings.HasPrefix(l, "+OK") {
		t.Fatal(l)
	}
	if l := send("RETR 1"); !strings.HasPrefix(l, "-ERR") {
		t.Fatalf("RETR of a deleted message: %s", l)
	}
	if l := send("QUIT"); !strings.HasPrefix(l, "+OK") {
		t.Fatal(l)
	}
	if n := count(t, filepath.Join(dir, "alice", "new")); n != 0 {
		t.Fatalf("DELE then QUIT left %d", n)
	}
}

func TestPOP3ErrorsEndTheSession(t *testing.T) {
	m, _ := testService(t)
	m.opts.MaxErrors = 3
	out := pop3Talk(t, m, "BOGUS\r\nBOGUS\r\nBOGUS\r\nNOOP\r\nNOOP\r\n")
	if !strings.Contains(out, "too many errors") || strings.Count(out, "-ERR") != 3 {
		t.Fatalf("got %q", out)
	}
}

func FuzzPOP3Session(f *testing.F) {
	for _, s := range []string{"USER alice\r\nPASS secret\r\nSTAT\r\nLIST\r\nRETR 1\r\nDELE 1\r\nRSET\r\nTOP 1 1\r\nUIDL\r\nQUIT\r\n",
		"CAPA\r\nSTLS\r\n", "USER alice\nPASS secret\nRETR 99999999999999999999\n"} {
		f.Add(s)
	}
	m, dir := testService(f)
	if err := deliver([]string{filepath.Join(dir, "alice")}, "h", nil, strings.NewReader("Subject: a\r\n\r\nbody\r\n")); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, input string) {
		_ = pop3Talk(t, m, input)
	})
}
