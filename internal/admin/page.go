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
	b.WriteString("\n</tbody></table>\n")
	b.WriteString(`<h2 id="window">Last 15 minutes</h2>` + "\n" + `<div id="charts" class="charts"><p class="meta">The charts are drawn by the page's script from <a href="/status/series">/status/series</a>.</p></div>` + "\n")
	b.WriteString(`<div class="cols">` + "\n" + `<section class="panel"><h2>Recent reloads</h2>` + "\n" + `<ul class="log" id="reloads">`)
	writeReloads(&b, st.Reloads)
	b.WriteString("</ul></section>\n" + `<section class="panel"><h2>Recent warnings and errors</h2>` + "\n" + `<ul class="log" id="errors">`)
	writeErrors(&b, st.RecentErrors)
	b.WriteString("</ul></section>\n</div>\n" + pageFooter)
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

// stamp is how the lists show a time: month, day and UTC time of day.
func stamp(t time.Time) string { return t.UTC().Format("01-02 15:04:05") }

func writeReloads(b *strings.Builder, rs []Reload) {
	if len(rs) == 0 {
		b.WriteString(`<li class="none">No reload since the start.</li>`)
	}
	for _, r := range rs {
		b.WriteString(`<li><time datetime="` + r.Time.UTC().Format(time.RFC3339) + `">` + stamp(r.Time) + `</time> <span class="badge ` +
			okOrBad(r.Result == "ok") + `">` + html.EscapeString(r.Result) + "</span>")
		if r.Error != "" {
			b.WriteString(` <span class="msg">` + html.EscapeString(r.Error) + "</span>")
		}
		b.WriteString("</li>")
	}
}

func writeErrors(b *strings.Builder, ls []LogLine) {
	if len(ls) == 0 {
		b.WriteString(`<li class="none">None since the start.</li>`)
	}
	esc := html.EscapeString
	for _, l := range ls {
		b.WriteString(`<li><time datetime="` + l.Time.UTC().Format(time.RFC3339) + `">` + stamp(l.Time) + `</time> <span class="lvl ` +
			esc(l.Level) + `">` + esc(l.Level) + "</span> ")
		if l.Service != "" {
			b.WriteString(`<b>[` + esc(l.Service) + `]</b> `)
		}
		b.WriteString(`<span class="msg">` + esc(l.Message) + "</span>")
		if l.Fields != "" {
			b.WriteString(` <code class="fields">` + esc(l.Fields) + "</code>")
		}
		b.WriteString("</li>")
	}
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

const pageFooter = `<p class="meta">Refreshes every 2 s · <a href="/metrics">metrics</a> · <a href="/status" type="application/json" id="json">JSON</a> · <a href="/status/series">series</a></p>
</main>
`

// pageHead is the page up to the state badge: its style sheet and header.
const pageHead = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>twistd status</title>
<style>
:root { color-scheme: light dark; --fg:#1b1f24; --bg:#f6f8fa; --muted:#57606a; --line:#d0d7de; --grid:#eaeef2; --ok:#1a7f37; --bad:#cf222e; --warn:#9a6700; --card:#fff;
  --rate:#0969da; --active:#8250df; --in:#1a7f37; --out:#bc4c00; --err:#cf222e; --p50:#1b7c83; --p99:#9a6700; }
@media (prefers-color-scheme: dark) { :root { --fg:#e6edf3; --bg:#0d1117; --muted:#8b949e; --line:#30363d; --grid:#21262d; --card:#161b22; --warn:#d29922;
  --rate:#4493f8; --active:#a371f7; --in:#3fb950; --out:#f0883e; --err:#f85149; --p50:#39c5cf; --p99:#d29922; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { padding: 14px 20px; border-bottom: 1px solid var(--line); background: var(--card); display: flex; flex-wrap: wrap; gap: 6px 20px; align-items: baseline; }
h1 { font-size: 20px; margin: 0; }
h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); margin: 22px 0 8px; font-weight: 600; }
.meta { color: var(--muted); font-size: 13px; }
main { padding: 16px 20px 24px; max-width: 1240px; margin: 0 auto; }
.badge { display: inline-block; padding: 0 8px; border-radius: 999px; font-size: 12px; font-weight: 600; border: 1px solid currentColor; line-height: 18px; }
.ok { color: var(--ok); } .bad { color: var(--bad); }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); border-radius: 6px; overflow: hidden; }
th, td { text-align: left; padding: 8px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 13px; overflow-wrap: anywhere; }
.reload { margin: 0 0 16px; }
.svc { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px 12px; margin-bottom: 12px; }
.svc h3 { font-size: 15px; margin: 0 0 8px; display: flex; flex-wrap: wrap; gap: 4px 10px; align-items: baseline; }
.svc h3 small { color: var(--muted); font-weight: 400; font-size: 13px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 12px 14px; }
.tile { min-width: 0; display: flex; flex-direction: column; }
.tile .now { flex: 1; }
.tile .top { display: flex; justify-content: space-between; gap: 6px; align-items: baseline; font-size: 12px; color: var(--muted); white-space: nowrap; }
.tile .now { font-size: 16px; font-weight: 600; color: var(--fg); font-variant-numeric: tabular-nums; line-height: 22px; min-height: 22px; }
.tile .now.multi { font-size: 13px; }
.tile .now .v { white-space: nowrap; margin-right: 6px; }
.tile .now i { font-style: normal; font-weight: 400; font-size: 12px; color: var(--muted); }
.tile .now .key { margin-left: 0; }
.plot { position: relative; border-bottom: 1px solid var(--line); margin-top: 2px; }
.plot svg { display: block; width: 100%; height: 72px; }
.plot .ymax { position: absolute; top: 0; left: 2px; font-size: 10px; color: var(--muted); font-variant-numeric: tabular-nums; pointer-events: none; }
.axis { display: flex; justify-content: space-between; font-size: 10px; color: var(--muted); margin-top: 1px; }
.grid { stroke: var(--grid); stroke-width: 1; }
.line { fill: none; stroke-width: 1.6; stroke-linejoin: round; stroke-linecap: round; }
.area { stroke: none; opacity: .14; }
.key { display: inline-block; width: 8px; height: 8px; border-radius: 2px; margin: 0 3px 0 6px; vertical-align: 0; }
.c-rate { stroke: var(--rate); fill: var(--rate); background: var(--rate); } .c-active { stroke: var(--active); fill: var(--active); background: var(--active); }
.c-in { stroke: var(--in); fill: var(--in); background: var(--in); } .c-out { stroke: var(--out); fill: var(--out); background: var(--out); }
.c-err { stroke: var(--err); fill: var(--err); background: var(--err); }
.c-p50 { stroke: var(--p50); fill: var(--p50); background: var(--p50); } .c-p99 { stroke: var(--p99); fill: var(--p99); background: var(--p99); }
path.line { fill: none; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 0 16px; }
.panel { min-width: 0; }
ul.log { list-style: none; margin: 0; padding: 0; background: var(--card); border: 1px solid var(--line); border-radius: 6px; max-height: 320px; overflow-y: auto; }
ul.log li { padding: 6px 10px; border-bottom: 1px solid var(--line); font-size: 13px; overflow-wrap: anywhere; }
ul.log li:last-child { border-bottom: 0; }
ul.log li.none { color: var(--muted); }
ul.log time { color: var(--muted); font-variant-numeric: tabular-nums; margin-right: 4px; }
.lvl { font-size: 11px; font-weight: 700; text-transform: uppercase; }
.lvl.warn { color: var(--warn); } .lvl.error, .lvl.dpanic, .lvl.panic, .lvl.fatal { color: var(--bad); }
.fields { color: var(--muted); font-size: 12px; display: block; margin-top: 2px; }
@media (max-width: 860px) { .cols { grid-template-columns: 1fr; } }
@media (max-width: 700px) {
  header, main { padding-left: 12px; padding-right: 12px; }
  table, thead, tbody, tr, th, td { display: block; }
  thead { display: none; }
  tr { border-bottom: 1px solid var(--line); padding: 6px 0; }
  td { border: 0; padding: 2px 10px; }
  td::before { content: attr(data-label) ": "; color: var(--muted); font-size: 12px; }
  td.num { text-align: left; display: inline-block; }
  .tiles { grid-template-columns: 1fr 1fr; gap: 10px; }
  .plot svg { height: 52px; }
}
</style></head>
<body>
<header>
  <h1>twistd</h1>
  `

// pageScript refreshes the page from /status and draws the charts from
// /status/series: inline SVG, one path per line, x over the whole
// window (so a young process fills from the right), y from 0 to a round
// maximum, with room above it for the maximum's label.
const pageScript = `<script>
(function () {
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return {"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;","'":"&#39;"}[c]; }); }
  function human(n) { var u = ["B","KiB","MiB","GiB","TiB"], i = 0; while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; } return (i ? n.toFixed(1) : n) + " " + u[i]; }
  function dur(s) { s = Math.floor(s); var h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60); return (h ? h + "h" : "") + (h || m ? m + "m" : "") + (s % 60) + "s"; }
  function badge(ok, text) { return '<span class="badge ' + (ok ? "ok" : "bad") + '">' + esc(text) + "</span>"; }
  function num(v) {
    if (v == null) return "–";
    var a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(1) + "G";
    if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(0) + "k";
    if (a >= 1e3) return (v / 1e3).toFixed(1) + "k";
    if (a >= 100 || v === Math.round(v)) return v.toFixed(0);
    return a >= 10 ? v.toFixed(1) : v.toFixed(2);
  }
  function rateBytes(v) {
    if (v == null) return "–";
    var u = ["B","KiB","MiB","GiB"], i = 0; while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return (v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)) + " " + u[i] + "/s";
  }
  function ms(v) { return v == null ? "–" : (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)) + " ms"; }
  function stamp(t) { return new Date(t).toISOString().slice(5, 19).replace("T", " "); }
  function last(vals) { for (var i = vals.length - 1; i >= 0; i--) if (vals[i] != null) return vals[i]; return null; }
  // nice rounds a maximum up to 1, 2 or 5 times a power of ten.
  function nice(v) { if (!(v > 0)) return 1; var p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p; return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p; }
  // nice1024 does it for bytes: 1, 2 or 5 times a power of ten of KiB, MiB...
  function nice1024(v) { var k = 1; while (v >= 1024 * k) k *= 1024; return nice(v / k) * k; }
  var W = 300, H = 72;
  // chart returns one tile: its title, its lines' latest values, and the SVG.
  function chart(title, fmt, lines, times, start, win, hint) {
    var top = 0, drawn = 0;
    lines.forEach(function (l) { l.vals.forEach(function (v) { if (v != null && v > top) top = v; }); });
    top = fmt === rateBytes ? nice1024(top) : nice(top);
    var paths = "";
    lines.forEach(function (l) {
      var d = "", area = "", seg = [];
      function flush() {
        if (!seg.length) return;
        d += "M" + seg.map(function (p) { return p[0].toFixed(1) + " " + p[1].toFixed(1); }).join("L");
        if (seg.length === 1) d += "h0.5";
        area += "M" + seg[0][0].toFixed(1) + " " + H + "L" + seg.map(function (p) { return p[0].toFixed(1) + " " + p[1].toFixed(1); }).join("L") + "L" + seg[seg.length - 1][0].toFixed(1) + " " + H + "Z";
        seg = [];
      }
      for (var i = 0; i < times.length; i++) {
        var v = l.vals[i];
        if (v == null) { flush(); continue; }
        seg.push([Math.max(0, (times[i] - start) / win * W), H - 1 - v / top * (H - 14)]);
        drawn++;
      }
      flush();
      if (lines.length === 1 && area) paths += '<path class="area c-' + l.cls + '" d="' + area + '"/>';
      if (d) paths += '<path class="line c-' + l.cls + '" vector-effect="non-scaling-stroke" d="' + d + '"/>';
    });
    var now = lines.map(function (l) {
      return '<span class="v">' + (lines.length > 1 ? '<i><span class="key c-' + l.cls + '"></span>' + esc(l.name) + "</i> " : "") + esc(fmt(last(l.vals))) + "</span>";
    }).join(" ");
    return '<div class="tile"><div class="top"' + (hint ? ' title="' + esc(hint) + '"' : "") + "><span>" + esc(title) + '</span></div><div class="now' + (lines.length > 1 ? " multi" : "") + '">' + now + '</div>' +
      '<div class="plot"><svg viewBox="0 0 ' + W + " " + H + '" preserveAspectRatio="none" role="img" aria-label="' + esc(title) + '" data-points="' + drawn + '">' +
      '<line class="grid" vector-effect="non-scaling-stroke" x1="0" x2="' + W + '" y1="' + (H / 2) + '" y2="' + (H / 2) + '"/>' + paths + "</svg>" +
      '<span class="ymax">' + esc(fmt(top)) + "</span></div>" +
      '<div class="axis"><span>−' + Math.round(win / 60) + " min</span><span>now</span></div></div>";
  }
  function drawCharts(ser) {
    var el = document.getElementById("charts");
    if (!ser.services.length) { el.innerHTML = '<p class="meta">No services.</p>'; return; }
    var win = ser.step_seconds * ser.points, mins = Math.round(win / 60), end = ser.times.length ? ser.times[ser.times.length - 1] : Date.now() / 1000, start = end - win;
    document.getElementById("window").textContent = "Last " + (mins >= 1 ? mins + " minute" + (mins === 1 ? "" : "s") : win + " seconds");
    el.innerHTML = ser.services.map(function (s) {
      var unit = s.rate_unit, tiles = [
        chart(unit.charAt(0).toUpperCase() + unit.slice(1) + "/s", num, [{ name: unit, cls: "rate", vals: s.rate }], ser.times, start, win),
        chart("Open connections", num, [{ name: "open", cls: "active", vals: s.connections_active }], ser.times, start, win),
        chart("Bytes/s", rateBytes, [{ name: "in", cls: "in", vals: s.bytes_in_per_second }, { name: "out", cls: "out", vals: s.bytes_out_per_second }], ser.times, start, win),
        chart("Errors/s", num, [{ name: "errors", cls: "err", vals: s.errors_per_second }], ser.times, start, win)];
      if (s.latency_p50_ms) tiles.push(chart("Latency", ms,
        [{ name: "p50", cls: "p50", vals: s.latency_p50_ms }, { name: "p99", cls: "p99", vals: s.latency_p99_ms }], ser.times, start, win,
        "From the request-duration histogram; under " + s.latency_floor_ms + " ms, its lowest bucket, a quantile is interpolated."));
      var note = ser.times.length ? "" : " · first point in " + ser.step_seconds + " s";
      return '<section class="svc" data-service="' + esc(s.name) + '"><h3>' + esc(s.name) + " <small>" + esc(s.type) + " · every " + ser.step_seconds + " s" + note + '</small></h3><div class="tiles">' + tiles.join("") + "</div></section>";
    }).join("");
  }
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
    var rl = st.reloads || [];
    document.getElementById("reloads").innerHTML = rl.length ? rl.map(function (r) {
      return '<li><time datetime="' + esc(r.time) + '">' + stamp(r.time) + "</time> " + badge(r.result === "ok", r.result) + (r.error ? ' <span class="msg">' + esc(r.error) + "</span>" : "") + "</li>";
    }).join("") : '<li class="none">No reload since the start.</li>';
    var er = st.recent_errors || [];
    document.getElementById("errors").innerHTML = er.length ? er.map(function (l) {
      return '<li><time datetime="' + esc(l.time) + '">' + stamp(l.time) + '</time> <span class="lvl ' + esc(l.level) + '">' + esc(l.level) + "</span> " +
        (l.service ? "<b>[" + esc(l.service) + "]</b> " : "") + '<span class="msg">' + esc(l.msg) + "</span>" +
        (l.fields ? ' <code class="fields">' + esc(l.fields) + "</code>" : "") + "</li>";
    }).join("") : '<li class="none">None since the start.</li>';
  }
  function get(path) { return fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" }).then(function (r) { return r.json(); }); }
  function series() { return get("/status/series").then(drawCharts).catch(function () {}); }
  series();
  setInterval(function () {
    get("/status").then(render).catch(function () {
      var state = document.getElementById("state"); state.className = "badge bad"; state.textContent = "unreachable";
    });
    series();
  }, 2000);
})();
</script>
</body></html>
`
