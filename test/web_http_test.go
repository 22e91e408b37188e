package test

import (
	"bytes"
	"compress/gzip"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestWebRangesAndConditionals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	content := strings.Repeat("0123456789", 100) // 1000 bytes
	writeFile(t, dir, "digits.txt", content)
	big := bytes.Repeat([]byte("abcdefghijklmnop"), 1<<16) // 1 MiB: served from the file
	writeFile(t, dir, "big.bin", string(big))
	_, base := startWeb(t, dir)
	c := webClient()

	for _, name := range []string{"digits.txt", "big.bin"} {
		want := content
		if name == "big.bin" {
			want = string(big)
		}
		url := base + "/" + name
		resp, full := fetch(t, c, "GET", url)
		if full != want {
			t.Fatalf("%s: body differs", name)
		}
		etag, lm := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
		if resp.Header.Get("Accept-Ranges") != "bytes" {
			t.Fatalf("%s: no Accept-Ranges", name)
		}

		resp, body := fetch(t, c, "GET", url, "Range", "bytes=10-19")
		if resp.StatusCode != 206 || body != want[10:20] || resp.Header.Get("Content-Range") != "bytes 10-19/"+itoa(len(want)) {
			t.Fatalf("%s single range: %d %q %q", name, resp.StatusCode, body, resp.Header.Get("Content-Range"))
		}
		resp, body = fetch(t, c, "GET", url, "Range", "bytes=-5")
		if resp.StatusCode != 206 || body != want[len(want)-5:] {
			t.Fatalf("%s suffix range: %d %q", name, resp.StatusCode, body)
		}
		resp, body = fetch(t, c, "GET", url, "Range", "bytes=0-1,5-6")
		mt, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if resp.StatusCode != 206 || mt != "multipart/byteranges" {
			t.Fatalf("%s multiple ranges: %d %q", name, resp.StatusCode, mt)
		}
		mr := multipart.NewReader(strings.NewReader(body), params["boundary"])
		var parts []string
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(p)
			parts = append(parts, string(b))
		}
		if len(parts) != 2 || parts[0] != want[0:2] || parts[1] != want[5:7] {
			t.Fatalf("%s multipart parts: %q", name, parts)
		}
		resp, _ = fetch(t, c, "GET", url, "Range", "bytes=99999999-")
		wantStatus(t, name+" unsatisfiable range", resp, http.StatusRequestedRangeNotSatisfiable)
		resp, _ = fetch(t, c, "GET", url, "Range", "bytes=0-0,"+strings.Repeat("1-1,", 400)+"2-2")
		if resp.StatusCode != 200 && resp.StatusCode != 416 {
			t.Fatalf("%s absurd range list: %d", name, resp.StatusCode)
		}

		resp, body = fetch(t, c, "GET", url, "If-None-Match", etag)
		if resp.StatusCode != 304 || body != "" {
			t.Fatalf("%s If-None-Match: %d", name, resp.StatusCode)
		}
		resp, _ = fetch(t, c, "GET", url, "If-Modified-Since", lm)
		wantStatus(t, name+" If-Modified-Since", resp, 304)
		resp, _ = fetch(t, c, "GET", url, "If-Modified-Since", time.Unix(0, 0).UTC().Format(http.TimeFormat))
		wantStatus(t, name+" old If-Modified-Since", resp, 200)
		resp, _ = fetch(t, c, "GET", url, "If-Match", `"other"`)
		wantStatus(t, name+" If-Match", resp, http.StatusPreconditionFailed)
		resp, _ = fetch(t, c, "GET", url, "If-Unmodified-Since", time.Unix(0, 0).UTC().Format(http.TimeFormat))
		wantStatus(t, name+" If-Unmodified-Since", resp, http.StatusPreconditionFailed)
		resp, body = fetch(t, c, "GET", url, "Range", "bytes=0-3", "If-Range", etag)
		if resp.StatusCode != 206 || body != want[:4] {
			t.Fatalf("%s If-Range matching: %d", name, resp.StatusCode)
		}
		resp, body = fetch(t, c, "GET", url, "Range", "bytes=0-3", "If-Range", `"stale"`)
		if resp.StatusCode != 200 || body != want {
			t.Fatalf("%s If-Range stale: %d", name, resp.StatusCode)
		}
	}
}

func TestWebCompression(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	css := strings.Repeat("body { color: red; }\n", 200)
	writeFile(t, dir, "site.css", css)
	writeFile(t, dir, "small.txt", "tiny")
	writeFile(t, dir, "photo.png", strings.Repeat("\x89PNG", 1000))
	js := strings.Repeat("console.log('hi');\n", 200)
	writeFile(t, dir, "app.js", js)
	writeFile(t, dir, "app.js.gz", "PRECOMPRESSED-GZ")
	writeFile(t, dir, "app.js.br", "PRECOMPRESSED-BR")
	bigText := strings.Repeat("all work and no play makes jack a dull boy\n", 40000) // > the memory cache's limit
	writeFile(t, dir, "big.txt", bigText)
	_, base := startWeb(t, dir)
	c := webClient()

	resp, body := fetch(t, c, "GET", base+"/site.css", "Accept-Encoding", "gzip, deflate")
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("site.css: encoding %q vary %q", resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"))
	}
	if gunzip(t, body) != css || len(body) >= len(css) {
		t.Fatal("site.css: gzip body does not decode to the file")
	}
	gzETag := resp.Header.Get("ETag")
	resp, body = fetch(t, c, "GET", base+"/site.css")
	if resp.Header.Get("Content-Encoding") != "" || body != css || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatal("site.css without Accept-Encoding must be plain, with Vary")
	}
	if resp.Header.Get("ETag") == gzETag {
		t.Fatal("the gzip encoding shares the plain ETag")
	}
	resp, _ = fetch(t, c, "GET", base+"/site.css", "Accept-Encoding", "gzip", "If-None-Match", gzETag)
	wantStatus(t, "gzip If-None-Match", resp, 304)
	resp, _ = fetch(t, c, "GET", base+"/site.css", "Accept-Encoding", "gzip;q=0, identity")
	if resp.Header.Get("Content-Encoding") != "" {
		t.Fatal("gzip;q=0 still got gzip")
	}
	resp, body = fetch(t, c, "GET", base+"/small.txt", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "" || body != "tiny" {
		t.Fatal("a file under 1 KiB must not be gzipped")
	}
	resp, _ = fetch(t, c, "GET", base+"/photo.png", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "" {
		t.Fatal("a PNG must not be gzipped")
	}
	resp, body = fetch(t, c, "GET", base+"/app.js", "Accept-Encoding", "gzip, br")
	if resp.Header.Get("Content-Encoding") != "br" || body != "PRECOMPRESSED-BR" ||
		!strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Fatalf("app.js with br: %q %q %q", resp.Header.Get("Content-Encoding"), body, resp.Header.Get("Content-Type"))
	}
	resp, body = fetch(t, c, "GET", base+"/app.js", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" || body != "PRECOMPRESSED-GZ" {
		t.Fatalf("app.js with gzip: %q %q", resp.Header.Get("Content-Encoding"), body)
	}
	resp, body = fetch(t, c, "GET", base+"/big.txt", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" || gunzip(t, body) != bigText {
		t.Fatalf("big.txt streamed gzip: %q", resp.Header.Get("Content-Encoding"))
	}
}

func gunzip(t *testing.T, s string) string {
	t.Helper()
	z, err := gzip.NewReader(strings.NewReader(s))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatalf("bad gzip: %v", err)
	}
	return string(b)
}
