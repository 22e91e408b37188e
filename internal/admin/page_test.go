package admin

import (
	"strings"
	"testing"
	"time"
)

func TestPageEscapesValues(t *testing.T) {
	st := Status{PID: 7, Version: "1.0+dev", UptimeSeconds: 3725.9, Config: "/etc/<app>.yaml", State: "ready",
		LastReload: &Reload{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Result: "failed", Error: `bad "key" & <tag>`},
		Services: []ServiceStatus{{Name: "<script>alert(1)</script>", Type: "web", State: "running",
			Listeners: []Listener{{"tcp", "127.0.0.1:80"}, {"tcp", "[::1]:80"}}, ConnectionsTotal: 12, BytesIn: 2048}}}
	var b strings.Builder
	if err := writePage(&b, st); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		`<span id="state" class="badge ok">ready</span>`,
		`pid <b id="pid">7</b> · version <b>1.0+dev</b> · up <b id="uptime">1h2m5s</b> · <code>/etc/&lt;app&gt;.yaml</code>`,
		"Last reload 2026-01-02 03:04:05Z:\n  <span class=\"badge bad\">failed</span> bad &#34;key&#34; &amp; &lt;tag&gt;</p>",
		`<b>&lt;script&gt;alert(1)&lt;/script&gt;</b>`,
		`<code>tcp 127.0.0.1:80</code><br><code>tcp [::1]:80</code><br></td>`,
		`<td data-label="In" class="num">2.0 KiB</td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>alert") || strings.Count(page, "<tr>\n<td data-label=\"Service\">") != 1 {
		t.Errorf("page:\n%s", page)
	}
}

func TestPageShowsAFailure(t *testing.T) {
	st := Status{State: "ready", Services: []ServiceStatus{{Name: "echo", Type: "echo", State: "failed",
		Error: "tcp:7 (0.0.0.0:7): accept4: invalid argument <x>", Failures: 1}}}
	var b strings.Builder
	if err := writePage(&b, st); err != nil {
		t.Fatal(err)
	}
	want := `<span class="badge bad">failed</span> <small>tcp:7 (0.0.0.0:7): accept4: invalid argument &lt;x&gt;</small></td>`
	if page := b.String(); !strings.Contains(page, want) {
		t.Errorf("page lacks %q:\n%s", want, page)
	}
}

func TestPageWithoutReload(t *testing.T) {
	var b strings.Builder
	if err := writePage(&b, Status{State: "stopping"}); err != nil {
		t.Fatal(err)
	}
	if page := b.String(); !strings.Contains(page, `id="reload">No reload yet.</p>`) ||
		!strings.Contains(page, `class="badge bad">stopping</span>`) || !strings.HasSuffix(page, "</body></html>\n") {
		t.Errorf("page:\n%s", page)
	}
}

func TestPageListsReloadsAndErrors(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := Status{State: "ready",
		Reloads:      []Reload{{Time: at, Result: "failed", Error: "bad <key>"}, {Time: at.Add(-time.Minute), Result: "ok"}},
		RecentErrors: []LogLine{{Time: at, Level: "warn", Service: "site", Message: "slow & <late>", Fields: `peer="a b"`}}}
	var b strings.Builder
	if err := writePage(&b, st); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		`<li><time datetime="2026-01-02T03:04:05Z">01-02 03:04:05</time> <span class="badge bad">failed</span> <span class="msg">bad &lt;key&gt;</span></li>`,
		`<li><time datetime="2026-01-02T03:03:05Z">01-02 03:03:05</time> <span class="badge ok">ok</span></li>`,
		`<span class="lvl warn">warn</span> <b>[site]</b> <span class="msg">slow &amp; &lt;late&gt;</span> <code class="fields">peer=&#34;a b&#34;</code></li>`,
		`<div id="charts" class="charts">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	var empty strings.Builder
	_ = writePage(&empty, Status{State: "ready"})
	if !strings.Contains(empty.String(), "No reload since the start.") || !strings.Contains(empty.String(), "None since the start.") {
		t.Errorf("empty lists:\n%s", empty.String())
	}
}
