package test

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// rssKiB is a process's resident memory from /proc.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// A flood of unique random names (each answered NXDOMAIN) does not grow
// the server's memory: answers are only cached for questions asked again.
func TestDNSUniqueNameFloodKeepsMemoryFlat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	zone := bigZone(t, dir, 20000, 1)
	d := startDNS(t, dir, "    zones: [./"+zone+"]\n")
	pid := d.server.cmd.Process.Pid
	dnsAsk(t, "udp", d.udp, "h1.big.test.", dns.TypeA)
	before := rssKiB(t, pid)

	const workers, each = 4, 30000
	var wg sync.WaitGroup
	var answered sync.Map
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			c, err := net.Dial("udp", d.udp)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			buf := make([]byte, 1500)
			got := 0
			for i := 0; i < each; i++ {
				m := new(dns.Msg)
				m.SetQuestion(fmt.Sprintf("r%d-%d.big.test.", w, i), dns.TypeA)
				raw, _ := m.Pack()
				c.SetDeadline(time.Now().Add(2 * time.Second))
				if _, err := c.Write(raw); err != nil {
					t.Error(err)
					return
				}
				if _, err := c.Read(buf); err == nil {
					got++
				}
			}
			answered.Store(w, got)
		})
	}
	wg.Wait()
	total := 0
	answered.Range(func(_, v any) bool { total += v.(int); return true })
	if total < workers*each*9/10 {
		t.Fatalf("only %d of %d queries answered", total, workers*each)
	}
	after := rssKiB(t, pid)
	if grew := after - before; grew > 16<<10 { // GC headroom only; caching every answer grew it by 32 MiB
		t.Fatalf("RSS grew from %d to %d KiB over %d unique names", before, after, total)
	}
}
