package test

import (
	"bufio"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// freePortRangeBoth finds n consecutive ports free on 127.0.0.1 and ::1
// (the library's passive listeners bind every address of both families).
func freePortRangeBoth(t *testing.T, n int) (int, int) {
	t.Helper()
	for try := 0; try < 50; try++ {
		lo := 20000 + rand.IntN(12000)
		ok := true
		for p := lo; p < lo+n && ok; p++ {
			for _, h := range []string{"127.0.0.1", "::1"} {
				c, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(p)))
				if err != nil {
					ok = false
					break
				}
				c.Close()
			}
		}
		if ok {
			return lo, lo + n - 1
		}
	}
	t.Fatal("no free port range")
	return 0, 0
}

// ftpControl is a raw FTP control connection.
type ftpControl struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialFTP(t *testing.T, addr string) *ftpControl {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	f := &ftpControl{t: t, c: c, r: bufio.NewReader(c)}
	f.reply()
	return f
}

// reply reads one (possibly multi-line) reply and returns its last line.
func (f *ftpControl) reply() string {
	f.t.Helper()
	for {
		l, err := f.r.ReadString('\n')
		if err != nil {
			f.t.Fatalf("reading a reply: %v", err)
		}
		l = strings.TrimRight(l, "\r\n")
		if len(l) >= 4 && l[3] == ' ' {
			return l
		}
	}
}

func (f *ftpControl) cmd(line string) string {
	f.t.Helper()
	if _, err := f.c.Write([]byte(line + "\r\n")); err != nil {
		f.t.Fatal(err)
	}
	return f.reply()
}

var epsvPort = regexp.MustCompile(`\(\|\|\|(\d+)\|\)`)

// curlFTP downloads url with curl's extra flags and returns the body and
// the data-connection commands and replies of its verbose output.
func curlFTP(t *testing.T, url string, flags ...string) (body, trace string) {
	t.Helper()
	out, err := runClient(t, "curl", append([]string{"-sS", "-v", "--max-time", "20", "-o", "-"}, append(flags, url)...)...)
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "> EPSV") || strings.HasPrefix(l, "> PASV") || strings.HasPrefix(l, "> PORT") ||
			strings.HasPrefix(l, "> EPRT") || strings.HasPrefix(l, "< 2") && strings.Contains(l, "Passive") {
			lines = append(lines, strings.TrimSpace(l))
		}
		if !strings.HasPrefix(l, "*") && !strings.HasPrefix(l, "<") && !strings.HasPrefix(l, ">") && !strings.HasPrefix(l, "{") && !strings.HasPrefix(l, "}") {
			body += l
		}
	}
	if err != nil {
		t.Fatalf("curl %v %s: %v\n%s", flags, url, err, out)
	}
	return body, strings.Join(lines, "\n")
}

// Passive (EPSV and PASV) within a configured port range and active mode
// (EPRT and PORT), over IPv4 and IPv6, with curl and lftp. On IPv6 PASV,
// which can name only an IPv4 address, gets RFC 2428's 522 and costs no
// passive port; EPSV with the other family's number gets 522; EPSV ALL
// gets 200 and then only EPSV is taken.
func TestGapsFTPPassiveActiveBothFamilies(t *testing.T) {
	t.Parallel()
	dir, _ := ftpSite(t)
	lo, hi := freePortRangeBoth(t, 3)
	rng := strconv.Itoa(lo) + "-" + strconv.Itoa(hi)
	s4 := start(t, dir, nil, "-n", "--pidfile=", "ftp", "-p", "tcp:0:interface=127.0.0.1", "-r", "pub", "--passive-ports", rng)
	s6 := start(t, dir, nil, "-n", "--pidfile=", "ftp", "-p", `tcp6:0:interface=\:\:1`, "-r", "pub", "--passive-ports", rng)
	inRange := func(trace string) {
		t.Helper()
		m := regexp.MustCompile(`Passive Mode \((?:\|\|\|(\d+)\||\d+,\d+,\d+,\d+,(\d+),(\d+))\)`).FindStringSubmatch(trace)
		if m == nil {
			t.Fatalf("no passive reply in:\n%s", trace)
		}
		p, _ := strconv.Atoi(m[1])
		if m[1] == "" {
			a, _ := strconv.Atoi(m[2])
			b, _ := strconv.Atoi(m[3])
			p = a<<8 | b
		}
		if p < lo || p > hi {
			t.Fatalf("passive port %d outside %s:\n%s", p, rng, trace)
		}
	}
	for _, c := range []struct {
		addr  string
		flags []string
		want  string // the data-connection command curl must have sent
	}{
		{s4.addrs()[0], []string{"--ftp-pasv"}, "> EPSV"},
		{s4.addrs()[0], []string{"--ftp-pasv", "--disable-epsv"}, "> PASV"},
		{s4.addrs()[0], []string{"-P", "-"}, "> EPRT |1|127.0.0.1|"},
		{s4.addrs()[0], []string{"-P", "-", "--disable-eprt"}, "> PORT 127,0,0,1,"},
		{s6.addrs()[0], []string{"--ftp-pasv"}, "> EPSV"},
		{s6.addrs()[0], []string{"-P", "-"}, "> EPRT |2|::1|"},
	} {
		body, trace := curlFTP(t, "ftp://"+c.addr+"/f.txt", c.flags...)
		if body != "hello ftp" {
			t.Fatalf("curl %v on %s: got %q\n%s", c.flags, c.addr, body, trace)
		}
		if !strings.Contains(trace, c.want) {
			t.Fatalf("curl %v on %s: want %q in:\n%s", c.flags, c.addr, c.want, trace)
		}
		if strings.Contains(c.want, "SV") {
			inRange(trace)
		}
	}

	// IPv6 by hand: PASV is refused with 522 and no passive port is
	// taken for it (the range has three; ten PASVs must leave them all).
	f := dialFTP(t, s6.addrs()[0])
	f.cmd("USER anonymous")
	if l := f.cmd("PASS x@example.com"); !strings.HasPrefix(l, "230") {
		t.Fatalf("login: %q", l)
	}
	for range 10 {
		if l := f.cmd("PASV"); !strings.HasPrefix(l, "522 ") {
			t.Fatalf("PASV on IPv6: want 522, got %q", l)
		}
	}
	if l := f.cmd("EPSV 1"); !strings.HasPrefix(l, "522 ") || !strings.Contains(l, "(2)") {
		t.Fatalf("EPSV 1 on IPv6: want 522 naming (2), got %q", l)
	}
	if l := f.cmd("EPRT |1|127.0.0.1|40000|"); !strings.HasPrefix(l, "522 ") || !strings.Contains(l, "(2)") {
		t.Fatalf("EPRT |1| on IPv6: want 522 naming (2), got %q", l)
	}
	seen := map[string]bool{}
	for range 4 {
		l := f.cmd("EPSV 2")
		m := epsvPort.FindStringSubmatch(l)
		if !strings.HasPrefix(l, "229 ") || m == nil {
			t.Fatalf("EPSV 2 after the PASVs: %q", l)
		}
		seen[m[1]] = true
	}
	if l := f.cmd("EPSV ALL"); !strings.HasPrefix(l, "200 ") {
		t.Fatalf("EPSV ALL: want 200, got %q", l)
	}
	for _, c := range []string{"PASV", "PORT 127,0,0,1,156,64", "EPRT |2|::1|40000|"} {
		if l := f.cmd(c); !strings.HasPrefix(l, "5") {
			t.Fatalf("%s after EPSV ALL: want a refusal, got %q", c, l)
		}
	}
	l := f.cmd("EPSV")
	if !strings.HasPrefix(l, "229 ") {
		t.Fatalf("EPSV after EPSV ALL: %q", l)
	}
	// The data connection of that EPSV works.
	dc, err := net.Dial("tcp", net.JoinHostPort("::1", epsvPort.FindStringSubmatch(l)[1]))
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	dc.SetDeadline(time.Now().Add(10 * time.Second))
	if l := f.cmd("RETR f.txt"); !strings.HasPrefix(l, "150") {
		t.Fatalf("RETR: %q", l)
	}
	b := make([]byte, 64)
	n, _ := bufio.NewReader(dc).Read(b)
	if string(b[:n]) != "hello ftp\n" {
		t.Fatalf("data: %q", b[:n])
	}
	if l := f.reply(); !strings.HasPrefix(l, "226") {
		t.Fatalf("after RETR: %q", l)
	}

	// IPv4 by hand: EPSV and EPRT with IPv6's number get 522 naming (1).
	g := dialFTP(t, s4.addrs()[0])
	g.cmd("USER anonymous")
	g.cmd("PASS x@example.com")
	if l := g.cmd("EPSV 2"); !strings.HasPrefix(l, "522 ") || !strings.Contains(l, "(1)") {
		t.Fatalf("EPSV 2 on IPv4: want 522 naming (1), got %q", l)
	}
	if l := g.cmd("EPRT |2|::1|40000|"); !strings.HasPrefix(l, "522 ") || !strings.Contains(l, "(1)") {
		t.Fatalf("EPRT |2| on IPv4: want 522 naming (1), got %q", l)
	}
	if l := g.cmd("EPSV 1"); !strings.HasPrefix(l, "229 ") {
		t.Fatalf("EPSV 1 on IPv4: %q", l)
	}
	if l := g.cmd("SITE CHMOD 777 f.txt"); !strings.HasPrefix(l, "500 ") {
		t.Fatalf("SITE: want 500, got %q", l)
	}

	if _, err := exec.LookPath("lftp"); err != nil {
		t.Log("lftp not installed: skipping its part")
		return
	}
	for _, c := range []struct{ host, settings string }{
		{s4.addrs()[0], "set ftp:prefer-epsv yes"},
		{s4.addrs()[0], "set ftp:prefer-epsv no"},
		{s4.addrs()[0], "set ftp:passive-mode no"},
		{s6.addrs()[0], "set ftp:prefer-epsv no"},
		{s6.addrs()[0], "set ftp:passive-mode no"},
	} {
		work := t.TempDir()
		cmd := exec.Command("lftp", "-e", "set net:max-retries 1; set net:timeout 10; "+c.settings+"; get f.txt; quit", "ftp://"+c.host)
		cmd.Dir = work
		out, err := cmd.CombinedOutput()
		if got, _ := os.ReadFile(work + "/f.txt"); err != nil || string(got) != "hello ftp\n" {
			t.Fatalf("lftp %q on %s: %v %q\n%s", c.settings, c.host, err, got, out)
		}
	}
}
