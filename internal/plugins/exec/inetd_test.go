package exec

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func lookupFake(proto, name string) (int, error) {
	ports := map[string]int{"echo": 7, "daytime": 13, "ftp": 21, "time": 37, "finger": 79}
	if p, ok := ports[name]; ok && proto == "tcp" {
		return p, nil
	}
	return 0, errors.New("unknown")
}

func TestParseInetd(t *testing.T) {
	for _, tc := range []struct {
		name  string
		line  string
		want  *InetdService
		warn  string
		error string
	}{
		{name: "program", line: "7001 stream tcp nowait nobody /usr/bin/rev rev",
			want: &InetdService{Name: "7001", Listen: "tcp:7001", Program: "/usr/bin/rev", User: "nobody"}},
		{name: "args after argv0", line: "finger stream tcp nowait nobody /usr/sbin/fingerd fingerd -l -s",
			want: &InetdService{Name: "finger", Listen: "tcp:79", Program: "/usr/sbin/fingerd", Args: []string{"-l", "-s"}, User: "nobody"}},
		{name: "user.group", line: "ftp stream tcp nowait root.wheel /usr/sbin/ftpd ftpd",
			want: &InetdService{Name: "ftp", Listen: "tcp:21", Program: "/usr/sbin/ftpd", User: "root", Group: "wheel"}},
		{name: "user:group", line: "ftp stream tcp nowait root:wheel /usr/sbin/ftpd ftpd",
			want: &InetdService{Name: "ftp", Listen: "tcp:21", Program: "/usr/sbin/ftpd", User: "root", Group: "wheel"}},
		{name: "tcp6 on an address", line: "[::1]:7002 stream tcp6 nowait nobody /bin/cat cat",
			want: &InetdService{Name: "7002", Listen: `tcp6:7002:interface=\:\:1`, Program: "/bin/cat", User: "nobody"}},
		{name: "address", line: "127.0.0.1:echo stream tcp nowait root internal",
			want: &InetdService{Name: "echo", Listen: "tcp:7:interface=127.0.0.1", Internal: "echo", User: "root"}},
		{name: "star address", line: "*:daytime stream tcp4 nowait root internal",
			want: &InetdService{Name: "daytime", Listen: "tcp:13", Internal: "daytime", User: "root"}},
		{name: "max-child", line: "7003 stream tcp nowait/8/0 nobody /bin/cat cat",
			want: &InetdService{Name: "7003", Listen: "tcp:7003", Program: "/bin/cat", User: "nobody", MaxInstances: 8}},
		{name: "rate kept out", line: "7004 stream tcp nowait.40 nobody /bin/cat cat",
			want: &InetdService{Name: "7004", Listen: "tcp:7004", Program: "/bin/cat", User: "nobody"}},
		{name: "dgram", line: "daytime dgram udp wait root internal", warn: "only stream services"},
		{name: "udp", line: "7005 stream udp nowait root /bin/cat cat", warn: "only tcp, tcp4 and tcp6"},
		{name: "rpc", line: "rstatd/1-3 dgram rpc/udp wait root /usr/sbin/rpc.rstatd rpc.rstatd", warn: "only stream services"},
		{name: "stream wait", line: "7006 stream tcp wait root /bin/cat cat", warn: "stream wait services"},
		{name: "bad wait", line: "7006 stream tcp sometimes root /bin/cat cat", warn: "want wait or nowait"},
		{name: "short", line: "7007 stream tcp nowait root", warn: "want SERVICE"},
		{name: "unknown internal", line: "finger stream tcp nowait root internal", warn: "internal service not provided"},
		{name: "unknown service", line: "gopher stream tcp nowait root /bin/cat cat", error: "unknown service"},
		{name: "port range", line: "70000 stream tcp nowait root /bin/cat cat", error: "out of range"},
		{name: "bad address", line: "example.com:7008 stream tcp nowait root /bin/cat cat", error: "not an IP address"},
		{name: "bad max-child", line: "7009 stream tcp nowait/x root /bin/cat cat", error: "max-child"},
		{name: "empty user", line: "7010 stream tcp nowait .wheel /bin/cat cat", error: "empty user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svcs, warns, err := ParseInetd(strings.NewReader("# comment\n\n"+tc.line+" # trailing\n"), lookupFake)
			switch {
			case tc.error != "":
				if err == nil || !strings.Contains(err.Error(), tc.error) || !strings.HasPrefix(err.Error(), "3: ") {
					t.Fatalf("err = %v, want line 3: ...%s", err, tc.error)
				}
				return
			case err != nil:
				t.Fatal(err)
			case tc.warn != "":
				if len(svcs) != 0 || len(warns) != 1 || warns[0].Line != 3 || !strings.Contains(warns[0].Msg, tc.warn) {
					t.Fatalf("services %v, warnings %v; want line 3 skipped: %s", svcs, warns, tc.warn)
				}
				return
			}
			if len(svcs) != 1 || len(warns) != 0 {
				t.Fatalf("services %v, warnings %v", svcs, warns)
			}
			tc.want.Line = 3
			if !reflect.DeepEqual(&svcs[0], tc.want) {
				t.Fatalf("got  %+v\nwant %+v", svcs[0], *tc.want)
			}
		})
	}
}

func TestParseInetdNamesAreUnique(t *testing.T) {
	svcs, _, err := ParseInetd(strings.NewReader(
		"127.0.0.1:echo stream tcp nowait root internal\n[::1]:echo stream tcp6 nowait root internal\n"), lookupFake)
	if err != nil || len(svcs) != 2 || svcs[0].Name != "echo" || svcs[1].Name != "echo-2" {
		t.Fatalf("%v %v", svcs, err)
	}
}

func TestParseInetdBounds(t *testing.T) {
	_, _, err := ParseInetd(strings.NewReader(strings.Repeat("x", maxInetdLine+1)), lookupFake)
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("a huge line: %v", err)
	}
}

// FuzzParseInetd: any input gives services, warnings or an error, never a
// panic, and every service has a name and an endpoint.
func FuzzParseInetd(f *testing.F) {
	for _, s := range []string{
		"7001 stream tcp nowait nobody /usr/bin/rev rev\n",
		"[::1]:echo stream tcp6 nowait/3 root.wheel internal\n",
		"daytime dgram udp wait root internal\n#x\n",
		"*: stream tcp nowait : x\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		svcs, _, err := ParseInetd(strings.NewReader(in), lookupFake)
		if err != nil {
			return
		}
		for _, s := range svcs {
			if s.Name == "" || s.Listen == "" || s.User == "" || s.Internal == "" && s.Program == "" {
				t.Fatalf("incomplete service %+v from %q", s, in)
			}
		}
	})
}

func TestLineLimit(t *testing.T) {
	var l LineLimit
	now := time.Unix(1000, 0)
	for i := 0; i < LineBurst; i++ {
		if ok, _ := l.take(now); !ok {
			t.Fatalf("line %d of the burst refused", i)
		}
	}
	if ok, _ := l.take(now); ok {
		t.Fatal("a line past the burst was admitted")
	}
	ok, dropped := l.take(now.Add(time.Second / LineRate))
	if !ok || dropped != 1 {
		t.Fatalf("after a refill: ok %v, dropped %d; want the drop reported", ok, dropped)
	}
}
