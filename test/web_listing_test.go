package test

import (
	"context"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWebListing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "b-file.txt", strings.Repeat("x", 5000))
	writeFile(t, dir, "a-file.txt", "a")
	writeFile(t, dir, "zeta/inner.txt", "in")
	writeFile(t, dir, "alpha/inner.txt", "in")
	writeFile(t, dir, "<script>.txt", "x")
	writeFile(t, dir, ".secret", "hidden")
	_, base := startWeb(t, dir)
	c := webClient()

	resp, body := fetch(t, c, "GET", base+"/")
	wantStatus(t, "listing", resp, 200)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("listing type %q", resp.Header.Get("Content-Type"))
	}
	if strings.Contains(body, "<script>.txt") || !strings.Contains(body, "&lt;script&gt;.txt") {
		t.Fatal("listing does not escape names")
	}
	if strings.Contains(body, ".secret") || strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Fatal("listing shows a hidden file or refers to an external asset")
	}
	order := []string{`href="./alpha/"`, `href="./zeta/"`, `href="./%3Cscript%3E.txt"`, `href="./a-file.txt"`, `href="./b-file.txt"`}
	last := -1
	for _, o := range order {
		i := strings.Index(body, o)
		if i < 0 || i < last {
			t.Fatalf("listing order: %s missing or out of place in\n%s", o, body)
		}
		last = i
	}
	_, body = fetch(t, c, "GET", base+"/?sort=size&order=desc")
	if strings.Index(body, `href="./b-file.txt"`) > strings.Index(body, `href="./a-file.txt"`) {
		t.Fatal("sort=size&order=desc: b-file.txt (5000 B) should come before a-file.txt")
	}
	_, body = fetch(t, c, "GET", base+"/alpha/")
	if !strings.Contains(body, `href="../"`) {
		t.Fatal("a sub-directory listing has no link up")
	}

	resp, body = fetch(t, c, "GET", base+"/", "Accept", "application/json")
	var entries []struct {
		Name  string `json:"name"`
		Size  int64  `json:"size"`
		IsDir bool   `json:"is_dir"`
		URL   string `json:"url"`
	}
	if err := json.Unmarshal([]byte(body), &entries); err != nil || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("JSON listing: %v %q", err, body)
	}
	if len(entries) != 5 || entries[0].Name != "alpha" || !entries[0].IsDir || entries[4].Size != 5000 {
		t.Fatalf("JSON listing entries: %+v", entries)
	}

	_, base2 := startWeb(t, dir, "--no-listing")
	resp, _ = fetch(t, c, "GET", base2+"/alpha/")
	wantStatus(t, "--no-listing", resp, 404)
}

// TestWebListingScreenshot renders the listing in headless Chromium at a
// desktop and a phone size and checks the pictures hold a page.
func TestWebListingScreenshot(t *testing.T) {
	t.Parallel()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed")
	}
	dir := t.TempDir()
	for _, n := range []string{"README.md", "index.js", "photo-of-a-very-long-name-that-must-be-cut-somewhere.jpg", "data.json"} {
		writeFile(t, dir, "files/"+n, strings.Repeat("x", len(n)*700))
	}
	writeFile(t, dir, "files/docs/guide.txt", "g")
	writeFile(t, dir, "files/src/main.go", "package main")
	_, base := startWeb(t, dir)
	for _, size := range []struct {
		name          string
		width, height int
	}{{"desktop", 1280, 800}, {"phone", 390, 844}} {
		t.Run(size.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "listing.png")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
				"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
				"--hide-scrollbars", "--user-data-dir="+t.TempDir(), "--screenshot="+out,
				"--window-size="+itoa(size.width)+","+itoa(size.height), base+"/files/")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("chromium: %v\n%s", err, b)
			}
			if dst := os.Getenv("WEB_SCREENSHOT_DIR"); dst != "" {
				b, _ := os.ReadFile(out)
				_ = os.WriteFile(filepath.Join(dst, "listing-"+size.name+".png"), b, 0o644)
			}
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatalf("screenshot is not a PNG: %v", err)
			}
			b := img.Bounds()
			if b.Dx() != size.width || b.Dy() != size.height {
				t.Fatalf("screenshot is %dx%d, want %dx%d", b.Dx(), b.Dy(), size.width, size.height)
			}
			if share := inked(img); share < 0.005 || share > 0.6 {
				t.Fatalf("screenshot looks blank or broken: %.2f%% of pixels differ from the background", share*100)
			}
		})
	}
}

// inked is the share of pixels that differ clearly from the top-left one
// (the page background).
func inked(img image.Image) float64 {
	b := img.Bounds()
	br, bg, bb, _ := img.At(b.Min.X, b.Min.Y).RGBA()
	diff := func(a, b uint32) uint32 {
		if a > b {
			return a - b
		}
		return b - a
	}
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if diff(r, br)+diff(g, bg)+diff(bl, bb) > 0x3000 {
				n++
			}
		}
	}
	return float64(n) / float64(b.Dx()*b.Dy())
}
