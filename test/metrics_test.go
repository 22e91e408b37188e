package test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Every metric moves when its traffic flows: HTTP requests by code and
// their durations, DNS queries by type and rcode, bytes and connections.
func TestMetricsMoveWithTraffic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "public/index.html", "hello\n")
	writeFile(t, dir, "hosts", "192.0.2.10 printer.home.arpa\n")
	app := writeFile(t, dir, "app.yaml", `
admin: {listen: 'tcp:0:interface=127.0.0.1'}
services:
  - name: site
    type: web
    listen: tcp:0:interface=127.0.0.1
    path: ./public
  - name: names
    type: dns
    listen: [udp:0:interface=127.0.0.1]
    hosts_file: ./hosts
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	a := s.addrs()
	base, site, dnsAddr := "http://"+a[0], "http://"+a[1], a[2]

	for _, path := range []string{"/", "/", "/missing"} {
		resp, err := http.Get(site + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	c := &dns.Client{Timeout: 5 * time.Second}
	for _, q := range []struct {
		name string
		typ  uint16
	}{{"printer.home.arpa.", dns.TypeA}, {"nowhere.example.", dns.TypeAAAA}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.typ)
		if _, _, err := c.Exchange(m, dnsAddr); err != nil {
			t.Fatal(err)
		}
	}
	var metrics string
	eventually(t, 5*time.Second, "the metrics", func() bool {
		_, metrics, _ = httpGet(t, base+"/metrics")
		return strings.Contains(metrics, `twistd_http_requests_total{code="200",service="site"} 2`)
	})
	for _, want := range []string{
		`twistd_http_requests_total{code="404",service="site"} 1`,
		`twistd_http_request_duration_seconds_count{service="site"} 3`,
		`twistd_dns_queries_total{qtype="A",rcode="NOERROR",service="names"} 1`,
		`twistd_dns_queries_total{qtype="AAAA",rcode="REFUSED",service="names"} 1`,
		`twistd_dns_query_duration_seconds_count{service="names"} 2`,
		`twistd_connections_accepted_total{service="site"}`,
		`twistd_bytes_sent_total{service="site"}`,
		`twistd_bytes_received_total{service="names"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, zero := range []string{`twistd_connections_accepted_total{service="site"} 0`, `twistd_bytes_sent_total{service="site"} 0`} {
		if strings.Contains(metrics, zero+"\n") {
			t.Errorf("%s did not move", zero)
		}
	}
}

// A service replaced by a reload (its entry changed) records into the
// same metric families as the instance it replaced: the counts go on,
// and no collector is registered twice.
func TestMetricsCountOnAcrossAReplacingReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "public/index.html", "hello\n")
	writeFile(t, dir, "hosts", "192.0.2.10 printer.home.arpa\n")
	doc := func(idle string) string {
		return `
admin: {listen: 'tcp:0:interface=127.0.0.1'}
services:
  - name: site
    type: web
    listen: tcp:0:interface=127.0.0.1
    path: ./public
    policies: {idle_timeout: ` + idle + `}
  - name: names
    type: dns
    listen: [udp:0:interface=127.0.0.1]
    hosts_file: ./hosts
    policies: {idle_timeout: ` + idle + `}
`
	}
	app := writeFile(t, dir, "app.yaml", doc("30s"))
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	a := s.addrs()
	base, site, dnsAddr := "http://"+a[0], "http://"+a[1], a[2]
	traffic := func() {
		t.Helper()
		resp, err := http.Get(site + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		m := new(dns.Msg)
		m.SetQuestion("printer.home.arpa.", dns.TypeA)
		if _, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(m, dnsAddr); err != nil {
			t.Fatal(err)
		}
	}
	traffic()
	if line := reloadTo(t, s, app, doc("31s"), 1); !strings.Contains(line, "reload succeeded") {
		t.Fatalf("reload: %s", line)
	}
	traffic()
	var metrics string
	eventually(t, 5*time.Second, "the counts to go on after the reload", func() bool {
		_, metrics, _ = httpGet(t, base+"/metrics")
		return strings.Contains(metrics, `twistd_http_requests_total{code="200",service="site"} 2`) &&
			strings.Contains(metrics, `twistd_dns_queries_total{qtype="A",rcode="NOERROR",service="names"} 2`)
	})
	if !strings.Contains(metrics, `twistd_reloads_total{result="ok"} 1`) {
		t.Errorf("/metrics lacks twistd_reloads_total ok 1:\n%s", metrics)
	}
	if !strings.Contains(s.output(), `"started": 2`) {
		t.Errorf("the reload did not replace both services:\n%s", s.output())
	}
}
