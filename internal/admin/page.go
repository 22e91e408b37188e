package admin

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"
	"time"
)

// writePage writes the /status page: no external assets, readable on a
// phone, and it refreshes itself from the JSON every two seconds. It is
// written out by hand, not with html/template: executing a template makes
// reflect's MethodByName reachable, and the linker then keeps every
// exported method in the binary (3 MB more, and 2 MB more idle RSS).
// Every value goes through html.EscapeString.
func writePage(w io.Writer, st Status) error {
	esc := html.EscapeString
	var b strings.Builder
	b.Grow(len(pageHead) + len(pageScript) + 2048 + 1024*len(st.Services))
	b.WriteString(pageHead)
	b.WriteString(`<span id="state" class="badge ` + okOrBad(st.State == "ready") + `">` + esc(st.State) + "</span>\n")
	b.WriteString(`  <span class="meta">pid <b id="pid">` + strconv.Itoa(st.PID) + `</b> · version <b>` + esc(st.Version) +
		`</b> · up <b id="uptime">` + esc(uptime(st.UptimeSeconds)) + `</b> · <code>` + esc(st.Config) + "</code></span>\n")
	b.WriteString("</header>\n<main>\n" + `<p class="reload meta" id="reload">`)
	if r := st.LastReload; r != nil {
		b.WriteString("Last reload " + esc(r.Time.Format("2006-01-02 15:04:05Z07:00")) + ":\n" +
			`  <span class="badge ` + okOrBad(r.Result == "ok") + `">` + esc(r.Result) + "</span> " + esc(r.Error))
	} else {
		b.WriteString("No reload yet.")
	}
	b.WriteString("</p>\n<table>\n" + pageTableHead + `<tbody id="services">` + "\n")
	for _, s := range st.Services {
		b.WriteString("<tr>\n" + `<td data-label="Service"><b>` + esc(s.Name) + `</b></td><td data-label="Type">` + esc(s.Type) + "</td>\n")
		b.WriteString(`<td data-label="State"><span class="badge ` + okOrBad(s.State == "running") + `">` + esc(s.State) + "</span>")
		if s.State == "failed" && s.Error != "" {
			b.WriteString(" <small>" + esc(s.Error) + "</small>")
		}
		b.WriteString("</td>\n")
		b.WriteString(`<td data-label="Listening on">`)
		for _, l := range s.Listeners {
			b.WriteString("<code>" + esc(l.Network) + " " + esc(l.Address) + "</code><br>")
		}
		for _, p := range processesOf(s.Details) {
			b.WriteString("<code>" + esc(p.Name) + " " + esc(p.State) + " pid " + strconv.Itoa(p.PID) +
				" restarts " + strconv.FormatInt(p.Restarts, 10) + "</code><br>")
		}
		b.WriteString("</td>\n")
		b.WriteString(`<td data-label="Active" class="num">` + strconv.FormatInt(s.ConnectionsActive, 10) +
			`</td><td data-label="Connections" class="num">` + strconv.FormatInt(s.ConnectionsTotal, 10) + "</td>\n")
		b.WriteString(`<td data-label="In" class="num">` + esc(humanBytes(s.BytesIn)) +
			`</td><td data-label="Out" class="num">` + esc(humanBytes(s.BytesOut)) + "</td>\n")
		b.WriteString(`<td data-label="Requests" class="num">` + strconv.FormatInt(s.Requests, 10) + "</td>\n</tr>")
	}
	b.WriteString("\n</tbody></table>\n" + pageFooter)
	b.WriteString(pageScript)
	_, err := io.WriteString(w, b.String())
	return err
}

// processRow is a supervised process as the page shows it.
type processRow struct {
	Name     string `json:"name"`
	PID      int    `json:"pid"`
	State    string `json:"state"`
	Restarts int64  `json:"restarts"`
}

// processesOf reads the processes out of a service's details (procmon's),
// whatever type the service reported them in.
func processesOf(details any) []processRow {
	if details == nil {
		return nil
	}
	b, err := json.Marshal(details)
	if err != nil {
		return nil
	}
	var d struct {
		Processes []processRow `json:"processes"`
	}
	_ = json.Unmarshal(b, &d)
	return d.Processes
}

func okOrBad(ok bool) string {
	if ok {
		return "ok"
	}
	return "bad"
}

// uptime shows whole seconds as a duration: 1h2m3s.
func uptime(s float64) string { return (time.Duration(s) * time.Second).String() }

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

const pageTableHead = `<thead><tr><th>Service</th><th>Type</th><th>State</th><th>Listening on</th><th class="num">Active</th><th class="num">Connections</th><th class="num">In</th><th class="num">Out</th><th class="num">Requests</th></tr></thead>
`

const pageFooter = `<p class="meta">Refreshes every 2 s · <a href="/metrics">metrics</a> · <a href="/status" type="application/json" id="json">JSON</a></p>
</main>
`

// pageHead is the page up to the state badge: its style sheet and header.
const pageHead = `<!doctype html>
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
  `

// pageScript refreshes the page from /status.
const pageScript = `<script>
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
        "<td data-label=State>" + badge(s.state === "running", s.state) + (s.state === "failed" && s.error ? " <small>" + esc(s.error) + "</small>" : "") + "</td>" +
        "<td data-label='Listening on'>" + s.listeners.map(function (l) { return "<code>" + esc(l.network + " " + l.address) + "</code>"; }).join("<br>") +
          ((s.details && s.details.processes) || []).map(function (p) { return "<br><code>" + esc(p.name + " " + p.state + " pid " + p.pid + " restarts " + p.restarts) + "</code>"; }).join("") + "</td>" +
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
`
