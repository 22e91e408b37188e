package admin

import (
	"fmt"
	"html/template"
	"time"
)

// page is the /status page: no external assets, readable on a phone, and
// it refreshes itself from the JSON every two seconds.
var page = template.Must(template.New("status").Funcs(template.FuncMap{
	"bytes":    humanBytes,
	"duration": func(s float64) string { return (time.Duration(s) * time.Second).String() },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>twistd status</title>
<style>
:root { color-scheme: light dark; --fg:#1b1f24; --bg:#fafbfc; --muted:#57606a; --line:#d0d7de; --ok:#1a7f37; --bad:#cf222e; --card:#fff; }
@media (prefers-color-scheme: dark) { :root { --fg:#e6edf3; --bg:#0d1117; --muted:#8b949e; --line:#30363d; --card:#161b22; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { padding: 16px 20px; border-bottom: 1px solid var(--line); display: flex; flex-wrap: wrap; gap: 8px 24px; align-items: baseline; }
h1 { font-size: 20px; margin: 0; }
.meta { color: var(--muted); font-size: 13px; }
main { padding: 16px 20px; max-width: 1200px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; border: 1px solid currentColor; }
.ok { color: var(--ok); } .bad { color: var(--bad); }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); border-radius: 6px; overflow: hidden; }
th, td { text-align: left; padding: 8px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 13px; overflow-wrap: anywhere; }
.reload { margin: 0 0 16px; }
@media (max-width: 700px) {
  table, thead, tbody, tr, th, td { display: block; }
  thead { display: none; }
  tr { border-bottom: 1px solid var(--line); padding: 6px 0; }
  td { border: 0; padding: 3px 10px; }
  td::before { content: attr(data-label) ": "; color: var(--muted); font-size: 12px; }
  td.num { text-align: left; }
}
</style></head>
<body>
<header>
  <h1>twistd</h1>
  <span id="state" class="badge {{if eq .State "ready"}}ok{{else}}bad{{end}}">{{.State}}</span>
  <span class="meta">pid <b id="pid">{{.PID}}</b> · version <b>{{.Version}}</b> · up <b id="uptime">{{duration .UptimeSeconds}}</b> · <code>{{.Config}}</code></span>
</header>
<main>
<p class="reload meta" id="reload">{{with .LastReload}}Last reload {{.Time.Format "2006-01-02 15:04:05Z07:00"}}:
  <span class="badge {{if eq .Result "ok"}}ok{{else}}bad{{end}}">{{.Result}}</span> {{.Error}}{{else}}No reload yet.{{end}}</p>
<table>
<thead><tr><th>Service</th><th>Type</th><th>State</th><th>Listening on</th><th class="num">Active</th><th class="num">Connections</th><th class="num">In</th><th class="num">Out</th><th class="num">Requests</th></tr></thead>
<tbody id="services">
{{range .Services}}<tr>
<td data-label="Service"><b>{{.Name}}</b></td><td data-label="Type">{{.Type}}</td>
<td data-label="State"><span class="badge {{if eq .State "running"}}ok{{else}}bad{{end}}">{{.State}}</span></td>
<td data-label="Listening on">{{range .Listeners}}<code>{{.Network}} {{.Address}}</code><br>{{end}}</td>
<td data-label="Active" class="num">{{.ConnectionsActive}}</td><td data-label="Connections" class="num">{{.ConnectionsTotal}}</td>
<td data-label="In" class="num">{{bytes .BytesIn}}</td><td data-label="Out" class="num">{{bytes .BytesOut}}</td>
<td data-label="Requests" class="num">{{.Requests}}</td>
</tr>{{end}}
</tbody></table>
<p class="meta">Refreshes every 2 s · <a href="/metrics">metrics</a> · <a href="/status" type="application/json" id="json">JSON</a></p>
</main>
<script>
(function () {
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return {"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;","'":"&#39;"}[c]; }); }
  function human(n) { var u = ["B","KiB","MiB","GiB","TiB"], i = 0; while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; } return (i ? n.toFixed(1) : n) + " " + u[i]; }
  function dur(s) { s = Math.floor(s); var h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60); return (h ? h + "h" : "") + (h || m ? m + "m" : "") + (s % 60) + "s"; }
  function badge(ok, text) { return '<span class="badge ' + (ok ? "ok" : "bad") + '">' + esc(text) + "</span>"; }
  function render(st) {
    var state = document.getElementById("state");
    state.className = "badge " + (st.state === "ready" ? "ok" : "bad"); state.textContent = st.state;
    document.getElementById("uptime").textContent = dur(st.uptime_seconds);
    var r = st.last_reload;
    document.getElementById("reload").innerHTML = r ? "Last reload " + esc(new Date(r.time).toISOString()) + ": " + badge(r.result === "ok", r.result) + " " + esc(r.error) : "No reload yet.";
    document.getElementById("services").innerHTML = st.services.map(function (s) {
      return "<tr><td data-label=Service><b>" + esc(s.name) + "</b></td><td data-label=Type>" + esc(s.type) + "</td>" +
        "<td data-label=State>" + badge(s.state === "running", s.state) + "</td>" +
        "<td data-label='Listening on'>" + s.listeners.map(function (l) { return "<code>" + esc(l.network + " " + l.address) + "</code>"; }).join("<br>") + "</td>" +
        "<td data-label=Active class=num>" + s.connections_active + "</td><td data-label=Connections class=num>" + s.connections_total + "</td>" +
        "<td data-label=In class=num>" + human(s.bytes_in) + "</td><td data-label=Out class=num>" + human(s.bytes_out) + "</td>" +
        "<td data-label=Requests class=num>" + s.requests + "</td></tr>";
    }).join("");
  }
  setInterval(function () {
    fetch("/status", { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (r) { return r.json(); }).then(render).catch(function () {
        var state = document.getElementById("state"); state.className = "badge bad"; state.textContent = "unreachable";
      });
  }, 2000);
})();
</script>
</body></html>
`))

// humanBytes formats a byte count with binary units.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
