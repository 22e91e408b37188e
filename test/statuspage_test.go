package test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// chromium runs headless Debian chromium with a fresh profile and returns
// its stdout; args are added to the usual quiet, sandbox-free flags. The
// test is skipped where chromium is missing, except under CI.
func chromium(t *testing.T, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		// CI installs it (.ci/run): there a missing browser is a failure.
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium is not installed, and CI is set: .ci/run should have installed it (apt-get install chromium)")
		}
		t.Skip("chromium is not installed: apt-get install -y chromium to run the status page's browser tests")
	}
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir=" + t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// statusPageApp runs echo and web services with an admin endpoint, and
// sends some traffic so the page has numbers to show.
func statusPageApp(t *testing.T) (s *server, admin, echo string) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "www/index.html", "<h1>hello</h1>\n")
	app := writeFile(t, dir, "app.yaml", `
admin:
  listen: tcp:0:interface=127.0.0.1
services:
  - name: echo
    type: echo
    listen: tcp:0:interface=127.0.0.1
  - name: site
    type: web
    listen: [tcp:0:interface=127.0.0.1, tcp:0:interface=127.0.0.2]
    path: ./www
`)
	s = start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	admin, echo = s.addrOf("_admin"), s.addrOf("echo")
	for range 3 {
		echoRoundTrip(t, echo, bytes.Repeat([]byte("z"), 3000))
	}
	httpGet(t, "http://"+s.addrOf("site")+"/")
	return s, admin, echo
}

// TestStatusPageScreenshot renders /status in headless Chromium at a desktop
// and a phone size and checks each screenshot is the right size and shows
// something (a blank or error page has a handful of colours).
func TestStatusPageScreenshot(t *testing.T) {
	t.Parallel()
	_, admin, _ := statusPageApp(t)
	for _, size := range []struct {
		name          string
		width, height int
	}{
		{name: "desktop", width: 1280, height: 800},
		{name: "phone", width: 390, height: 844},
	} {
		t.Run(size.name, func(t *testing.T) {
			file := filepath.Join(t.ArtifactDir(), "status-"+size.name+".png")
			chromium(t, "--window-size="+strconv.Itoa(size.width)+","+strconv.Itoa(size.height),
				"--screenshot="+file, "http://"+admin+"/status")
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatalf("screenshot: %v", err)
			}
			if b := img.Bounds(); b.Dx() != size.width || b.Dy() != size.height {
				t.Fatalf("screenshot is %dx%d, want %dx%d", b.Dx(), b.Dy(), size.width, size.height)
			}
			colours, top := colourStats(img)
			t.Logf("%s: %d colours, the most common covers %.1f%% (%s)", size.name, colours, 100*top, file)
			if colours < 32 || top > 0.98 {
				t.Fatalf("the screenshot looks blank: %d colours, one covers %.1f%%", colours, 100*top)
			}
		})
	}
}

// colourStats counts an image's distinct colours and the share of the
// most common one.
func colourStats(img image.Image) (distinct int, top float64) {
	counts := map[[4]uint32]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			counts[[4]uint32{r, g, bl, a}]++
		}
	}
	most := 0
	for _, n := range counts {
		most = max(most, n)
	}
	return len(counts), float64(most) / float64(b.Dx()*b.Dy())
}

// TestStatusPageRefreshes loads /status in Chromium through a proxy that,
// once the page itself has been served, makes more echo connections: the
// services table after 3 s of (virtual) time shows the new count, which
// only the page's own refresh from the JSON can have put there.
func TestStatusPageRefreshes(t *testing.T) {
	t.Parallel()
	_, admin, echo := statusPageApp(t)
	before := connectionsTotal(t, admin, "echo")
	const more = 5
	var pages, refreshes atomic.Int32
	var echoErr atomic.Value
	target, _ := url.Parse("http://" + admin)
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxy.ServeHTTP(w, r)
		if r.URL.Path != "/status" {
			return
		}
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			refreshes.Add(1)
			return
		}
		if pages.Add(1) == 1 {
			for range more {
				if err := echoOnce(echo, []byte("after the page\n")); err != nil {
					echoErr.Store(err)
				}
			}
		}
	}))
	defer front.Close()

	dom := string(chromium(t, "--virtual-time-budget=3000", "--dump-dom", front.URL+"/status"))
	if err := echoErr.Load(); err != nil {
		t.Fatalf("echo after the page: %v", err)
	}
	if pages.Load() != 1 || refreshes.Load() == 0 {
		t.Fatalf("the browser loaded the page %d times and refreshed it %d times, want 1 and at least 1", pages.Load(), refreshes.Load())
	}
	row := regexp.MustCompile(`(?s)<tr>\s*<td data-label="Service"><b>echo</b></td>.*?</tr>`).FindString(dom)
	if row == "" {
		t.Fatalf("no echo row in the services table:\n%s", dom)
	}
	if !strings.Contains(row, "tcp "+echo) {
		t.Errorf("the echo row does not show its address %s: %s", echo, row)
	}
	m := regexp.MustCompile(`data-label="Connections" class="num">(\d+)<`).FindStringSubmatch(row)
	if m == nil {
		t.Fatalf("no connections cell in the echo row: %s", row)
	}
	if got, want := m[1], strconv.FormatInt(before+more, 10); got != want {
		t.Fatalf("the table shows %s echo connections, want %s (the page was served at %d): the refresh did not populate it", got, want, before)
	}
	if !regexp.MustCompile(`(?s)<td data-label="Service"><b>site</b></td>.*?<code>tcp 127\.0\.0\.1:\d+</code><br><code>tcp 127\.0\.0\.2:\d+</code>`).MatchString(dom) {
		t.Errorf("the site row does not list its two listeners:\n%s", dom)
	}
	if !strings.Contains(dom, `id="state" class="badge ok">ready<`) {
		t.Errorf("the state badge does not say ready:\n%s", dom)
	}
}

// chartsApp runs echo and web services with an admin endpoint sampling
// every 200 ms, sends traffic, and waits until the series has points
// showing it.
func chartsApp(t *testing.T) (admin string) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "www/index.html", "<h1>hello</h1>\n")
	app := writeFile(t, dir, "app.yaml", `
admin:
  listen: tcp:0:interface=127.0.0.1
services:
  - name: echo
    type: echo
    listen: tcp:0:interface=127.0.0.1
  - name: site
    type: web
    listen: tcp:0:interface=127.0.0.1
    path: ./www
`)
	s := start(t, dir, []string{"TWISTD_STATUS_STEP=200ms"}, "-n", "--pidfile=", "-c", app)
	admin, echo, site := s.addrOf("_admin"), s.addrOf("echo"), s.addrOf("site")
	// Three bursts a step or more apart, so the lines have several points.
	for burst := range 3 {
		for range 10 * (burst + 1) {
			httpGet(t, "http://"+site+"/")
		}
		echoRoundTrip(t, echo, bytes.Repeat([]byte("z"), 3000))
		time.Sleep(250 * time.Millisecond)
	}
	eventually(t, 5*time.Second, "the series to show the web traffic", func() bool {
		d := getSeries(t, admin)
		return len(d.Services) == 2 && maxOf(d.Services[1].Rate) > 0 && len(d.Times) >= 4
	})
	return admin
}

// TestStatusPageChartsDraw loads /status in Chromium and reads the DOM
// its script built: each service has its chart tiles, and the site's
// requests/s line has several points, some above the baseline.
func TestStatusPageChartsDraw(t *testing.T) {
	t.Parallel()
	admin := chartsApp(t)
	dom := string(chromium(t, "--window-size=1280,900", "--virtual-time-budget=2000", "--dump-dom", "http://"+admin+"/status"))
	site := regexp.MustCompile(`(?s)<section class="svc" data-service="site">.*?</section>`).FindString(dom)
	if site == "" {
		t.Fatalf("no chart section for site:\n%s", dom)
	}
	if n := strings.Count(site, `<div class="tile">`); n != 5 {
		t.Errorf("site has %d chart tiles, want 5 (requests, connections, bytes, errors, latency)", n)
	}
	if !strings.Contains(dom, `<section class="svc" data-service="echo">`) {
		t.Errorf("no chart section for echo")
	}
	m := regexp.MustCompile(`aria-label="Requests/s" data-points="(\d+)">.*?<path class="line c-rate"[^>]* d="([^"]+)"`).FindStringSubmatch(site)
	if m == nil {
		t.Fatalf("no requests/s line in the site's charts:\n%s", site)
	}
	points, _ := strconv.Atoi(m[1])
	ys := regexp.MustCompile(`[ML][\d.]+ ([\d.]+)`).FindAllStringSubmatch(m[2], -1)
	above := 0
	for _, y := range ys {
		if v, _ := strconv.ParseFloat(y[1], 64); v < 60 { // the baseline is at 71 of 72
			above++
		}
	}
	t.Logf("requests/s: %d points drawn, %d above the baseline: d=%.120s", points, above, m[2])
	if points < 3 || len(ys) != points || above == 0 {
		t.Fatalf("the requests/s line has %d points (%d in its path), %d above the baseline", points, len(ys), above)
	}
	if !regexp.MustCompile(`aria-label="Latency" data-points="[1-9]\d*"`).MatchString(site) {
		t.Errorf("the latency chart drew no points")
	}
}

// TestStatusPageChartsScreenshot takes screenshots at 1280 and 390 px and
// counts the pixels in the requests/s line's colour (#0969da): the
// charts must be visible, not just in the DOM.
func TestStatusPageChartsScreenshot(t *testing.T) {
	t.Parallel()
	admin := chartsApp(t)
	for _, size := range []struct {
		name          string
		width, height int
	}{{"desktop", 1280, 900}, {"phone", 390, 1600}} {
		t.Run(size.name, func(t *testing.T) {
			file := filepath.Join(t.ArtifactDir(), "status-charts-"+size.name+".png")
			chromium(t, "--window-size="+strconv.Itoa(size.width)+","+strconv.Itoa(size.height), "--virtual-time-budget=2000",
				"--screenshot="+file, "http://"+admin+"/status")
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			n := colourPixels(img, 0x09, 0x69, 0xda, 40)
			t.Logf("%s: %d pixels of the requests/s colour (%s)", size.name, n, file)
			if n < 30 {
				t.Fatalf("only %d pixels of the chart colour: the charts did not draw", n)
			}
		})
	}
}

// colourPixels counts the pixels within tol (per channel) of r, g, b.
func colourPixels(img image.Image, r, g, b uint8, tol int) int {
	n := 0
	bd := img.Bounds()
	near := func(c uint32, want uint8) bool { d := int(c>>8) - int(want); return d >= -tol && d <= tol }
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if near(cr, r) && near(cg, g) && near(cb, b) {
				n++
			}
		}
	}
	return n
}

// TestListingShowsWholeDates loads a directory listing in Chromium at
// 1280 px through a proxy that adds a script measuring the Modified
// cells: none may be cut short (its text wider than its box).
func TestListingShowsWholeDates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, name := range []string{"a-rather-long-file-name-for-the-listing.tar.gz", "notes.txt", "sub/x"} {
		writeFile(t, dir, "www/"+name, "x\n")
	}
	s := start(t, dir, nil, "-n", "--pidfile=", "web", "--listen", "tcp:0:interface=127.0.0.1", "--path", filepath.Join(dir, "www"))
	target, _ := url.Parse("http://" + s.addrs()[0])
	proxy := httputil.NewSingleHostReverseProxy(target)
	const measure = `<script>addEventListener("load", function () {
  var cells = document.querySelectorAll("td.time"), cut = 0;
  cells.forEach(function (c) { if (c.scrollWidth > c.clientWidth) cut++; });
  document.body.setAttribute("data-cells", cells.length); document.body.setAttribute("data-cut", cut);
});</script>`
	proxy.ModifyResponse = func(r *http.Response) error {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return err
		}
		b = bytes.Replace(b, []byte("</body>"), []byte(measure+"</body>"), 1)
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
		r.Header.Set("Content-Length", strconv.Itoa(len(b)))
		r.Header.Del("Content-Encoding")
		return nil
	}
	front := httptest.NewServer(proxy)
	defer front.Close()
	dom := string(chromium(t, "--window-size=1280,900", "--virtual-time-budget=1000", "--dump-dom", front.URL+"/"))
	m := regexp.MustCompile(`<body data-cells="(\d+)" data-cut="(\d+)"`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the measuring script did not run:\n%s", dom)
	}
	if m[1] != "3" || m[2] != "0" {
		t.Fatalf("%s of the %s Modified cells are cut short at 1280 px", m[2], m[1])
	}
}
