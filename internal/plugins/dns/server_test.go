package dns

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/twistd-go/twistd/metrics"
	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/service"
)

func TestReload(t *testing.T) {
	dir := t.TempDir()
	zonePath, hostsPath := filepath.Join(dir, "z.zone"), filepath.Join(dir, "hosts")
	zone := "$ORIGIN example.com.\n$TTL 60\n@ SOA ns h 1 3600 600 86400 60\nwww A 192.0.2.1\n"
	write := func(p, s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(zonePath, zone)
	write(hostsPath, "192.0.2.5 h.test\n")
	s, err := newServer(settings{zones: []string{zonePath}, hostsFile: hostsPath, ttl: 60, answerCache: 100})
	if err != nil {
		t.Fatal(err)
	}
	has := func(name string) bool {
		res, ok := s.h.data.Load().resolve(name, dns.TypeA)
		return ok && len(res.answer) == 1
	}
	before := s.h.data.Load()
	if err := s.Reload(context.Background()); err != nil || s.h.data.Load() != before {
		t.Fatalf("reload of unchanged files: err %v, data replaced %v", err, s.h.data.Load() != before)
	}
	write(zonePath, zone+"new A 192.0.2.2\n")
	write(hostsPath, "192.0.2.5 h.test\n192.0.2.6 h2.test\n")
	if err := s.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !has("new.example.com.") || !has("h2.test.") {
		t.Fatal("changed files not re-read")
	}
	write(zonePath, zone+"broken A not-an-address\n")
	err = s.Reload(context.Background())
	if err == nil || !strings.Contains(err.Error(), "z.zone:5:") {
		t.Fatalf("broken zone: error %v, want one naming z.zone:5", err)
	}
	if !has("new.example.com.") {
		t.Fatal("a zone that no longer parses lost its old contents")
	}
}

func TestCounters(t *testing.T) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "q"}, []string{"service", "qtype", "rcode"})
	c := newCounters(vec, "names")
	for range 3 {
		c.inc(dns.TypeA, dns.RcodeSuccess)
	}
	c.inc(dns.TypeAAAA, dns.RcodeNameError)
	c.inc(65000, dns.RcodeBadVers)
	reg := prometheus.NewRegistry()
	reg.MustRegister(vec)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetValue())
			}
			got[strings.Join(labels, " ")] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{"A NOERROR names": 3, "AAAA NXDOMAIN names": 1, "TYPE65000 BADVERS names": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("counters %v, want %v", got, want)
	}
}

func TestCache(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newCache(2, func() time.Time { return now })
	msg := func(name string, ttl uint32) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		rr, _ := dns.NewRR(name + " " + strconv.Itoa(int(ttl)) + " IN A 192.0.2.1")
		m.Answer = []dns.RR{rr}
		return m
	}
	c.put("a", msg("a.test.", 60))
	now = now.Add(10 * time.Second)
	if m := c.get("a"); m == nil || m.Answer[0].Header().Ttl != 50 {
		t.Fatalf("aged answer: %v", m)
	}
	now = now.Add(60 * time.Second)
	if c.get("a") != nil {
		t.Fatal("expired answer served")
	}
	c.put("a", msg("a.test.", 60))
	c.put("b", msg("b.test.", 60))
	c.get("a")
	c.put("c", msg("c.test.", 60))
	if c.get("b") != nil || c.get("a") == nil || c.Len() != 2 {
		t.Fatal("LRU did not drop the least recently used")
	}
	neg := new(dns.Msg)
	neg.SetQuestion("nx.test.", dns.TypeA)
	neg.Rcode = dns.RcodeNameError
	soa, _ := dns.NewRR("test. 3600 IN SOA ns h 1 2 3 4 30")
	neg.Ns = []dns.RR{soa}
	if ttl, ok := cacheTTL(neg); !ok || ttl != 30 {
		t.Fatalf("negative TTL %d %v, want 30 (RFC 2308)", ttl, ok)
	}
	neg.Rcode = dns.RcodeServerFailure
	if _, ok := cacheTTL(neg); ok {
		t.Fatal("SERVFAIL cached")
	}
}

// A zone file whose content changed while its serial did not is warned
// about on reload (secondaries would keep the old data), as BIND and Knot
// do; a set of records with different TTLs is warned about at load.
func TestDataWarningsLogged(t *testing.T) {
	dir := t.TempDir()
	zonePath := filepath.Join(dir, "z.zone")
	zone := "$ORIGIN example.com.\n$TTL 60\n@ SOA ns h 1 3600 600 86400 60\nwww A 192.0.2.1\n"
	if err := os.WriteFile(zonePath, []byte(zone+"mixed 60 A 192.0.2.1\nmixed 120 A 192.0.2.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	svc, err := maker{}.New(testService(t, "zones: ["+zonePath+"]"))
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.WarnLevel)
	env := &service.Env{Name: "names", Logger: zap.New(core), Stats: &service.Stats{}, Metrics: metrics.New()}
	if err := svc.Start(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	defer svc.Stop(context.Background())
	if got := logs.FilterMessageSnippet("different TTLs").Len(); got != 1 {
		t.Fatalf("%d warnings of mixed TTLs at start, want 1: %v", got, logs.All())
	}
	if err := os.WriteFile(zonePath, []byte(zone+"new A 192.0.2.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := svc.(service.Reloader).Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	w := logs.FilterMessageSnippet("serial").All()
	if len(w) == 0 {
		t.Fatalf("no warning of a changed zone with the same serial: %v", logs.All())
	}
}

// testService returns a dns service entry with the keys body (one line of
// YAML) beside name, type and listen.
func testService(t *testing.T, body string) *plugin.Entry {
	t.Helper()
	doc := "services:\n  - name: names\n    type: dns\n    listen: [udp:0]\n    " + body + "\n"
	entries, err := plugin.ParseEntries("app.yaml", t.TempDir(), []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return entries[0]
}
