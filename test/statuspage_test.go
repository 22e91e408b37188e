package test

import (
	"bytes"
	"context"
	"image"
	"image/png"
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
// its stdout; args are added to the usual quiet, sandbox-free flags.
func chromium(t *testing.T, args ...string) []byte {
	t.Helper()
	bin := need(t, "chromium")
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
