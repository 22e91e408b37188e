package test

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// A one-liner's errors name the flag that gave the bad value, not a line
// of the entry generated from the flags.
func TestOneLinerErrorsNameTheFlag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{args: []string{"web", "--path", "www"}, want: `twistd: --path: no such directory "www"`},
		{args: []string{"web", "--listen", "tcp:x"}, want: `twistd: --listen: endpoint "tcp:x"`},
		{args: []string{"dns", "--port", "0", "--bindzone", "nozone"}, want: `twistd: --bindzone: no such file "nozone"`},
		{args: []string{"dns", "--port", "0", "--hosts-file", "nohosts"}, want: `twistd: --hosts-file: no such file "nohosts"`},
		{args: []string{"echo", "--listen", "tcp:18091", "--listen", "tcp:18091:interface=127.0.0.1"}, want: `twistd: --listen: listen tcp:18091:interface=127.0.0.1 conflicts with service "echo" (listen tcp:18091)`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := twistd(t, dir, nil, append([]string{"-n", "--pidfile="}, tt.args...)...)
			if r.code != 2 || !strings.HasPrefix(r.stderr, tt.want) || strings.Contains(r.stderr, "command line") {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", r.code, r.stderr, tt.want)
			}
		})
	}
}

// A one-liner reloads on SIGHUP as the same service from a file would:
// `twistd dns --bindzone F` re-reads F.
func TestOneLinerReloadsItsDataFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	zone := "$ORIGIN example.com.\n$TTL 60\n@ SOA ns h %d 3600 600 86400 60\n@ NS ns\nns A 192.0.2.53\nwww A %s\n"
	writeFile(t, dir, "example.com.zone", fmt.Sprintf(zone, 1, "192.0.2.1"))
	port := dnsFreePort(t)
	s := start(t, dir, nil, "-n", "--pidfile=", "dns", "--interface", "127.0.0.1", "--port", itoa(port), "--bindzone", "example.com.zone")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if r := dnsAsk(t, "udp", addr, "www.example.com.", dns.TypeA); len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.1" {
		t.Fatalf("before the reload: %v", r)
	}
	writeFile(t, dir, "example.com.zone", fmt.Sprintf(zone, 2, "192.0.2.2"))
	s.signal(syscall.SIGHUP)
	s.waitFor(`reload succeeded`, 5*time.Second)
	eventually(t, 5*time.Second, "the edited record", func() bool {
		r := dnsAsk(t, "udp", addr, "www.example.com.", dns.TypeA)
		return len(r.Answer) == 1 && r.Answer[0].(*dns.A).A.String() == "192.0.2.2"
	})
	r := dnsAsk(t, "tcp", addr, "example.com.", dns.TypeSOA)
	if len(r.Answer) != 1 || r.Answer[0].(*dns.SOA).Serial != 2 {
		t.Fatalf("the serial was not re-read: %v", r)
	}
}
