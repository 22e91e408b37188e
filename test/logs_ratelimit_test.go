package test

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// A dead upstream fails every forwarded query; the log says so a few
// times, then only now and then, with how many it left out.
func TestLogsRepeatedWarningsRateLimited(t *testing.T) {
	// Nothing listens there: queries are refused at once.
	upstream := "127.0.0.1:" + itoa(dnsFreePort(t))

	dir := t.TempDir()
	s := startDNS(t, dir, "    forward: [\""+upstream+"\"]\n")

	warning := regexp.MustCompile(`WARN  \[names\]  no upstream answered`)
	suppressed := regexp.MustCompile(`"suppressed": (\d+)`)
	var queries atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Net: "udp", Timeout: 3 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				m := new(dns.Msg)
				m.SetQuestion("q"+strconv.Itoa(w)+"-"+strconv.Itoa(i)+".example.net.", dns.TypeA)
				if r, _, err := c.Exchange(m, s.udp); err == nil && r.Rcode == dns.RcodeServerFailure {
					queries.Add(1)
				}
			}
		}()
	}
	// Hammer until a warning reports what it left out.
	line := s.waitFor(`no upstream answered.*"suppressed": \d+`, 15*time.Second)
	close(stop)
	wg.Wait()

	n, _ := strconv.Atoi(suppressed.FindStringSubmatch(line)[1])
	if n < 1 {
		t.Fatalf("suppressed count %d in %q", n, line)
	}
	var warnings int
	for _, l := range strings.Split(s.output(), "\n") {
		if warning.MatchString(l) {
			warnings++
		}
	}
	sent := queries.Load()
	if sent < 100 {
		t.Fatalf("only %d queries failed: the test did not hammer", sent)
	}
	if warnings > 15 {
		t.Fatalf("%d warnings for %d failed queries: not rate-limited", warnings, sent)
	}
	t.Logf("%d failed queries, %d warnings, %d suppressed in %q", sent, warnings, n, line)
}
