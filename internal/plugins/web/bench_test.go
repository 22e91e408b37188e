package web

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/metrics"
	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/service"
)

// discard is a ResponseWriter that keeps nothing, so benchmarks measure
// the handler alone.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkServeSmallFile is the handler's own cost for a 4 KiB file held
// in memory (net/http's parsing and writing not included).
func BenchmarkServeSmallFile(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file4k.bin"), make([]byte, 4096), 0o644); err != nil {
		b.Fatal(err)
	}
	opts := DefaultOptions()
	opts.Path = plugin.DirPath(dir)
	srv, err := newServer(&opts, nil)
	if err != nil {
		b.Fatal(err)
	}
	srv.h.bind(&service.Env{Name: "bench", Logger: zap.NewNop(), Stats: &service.Stats{}, Metrics: metrics.New()})
	u, _ := url.ParseRequestURI("/file4k.bin")
	r := &http.Request{Method: "GET", URL: u, Header: http.Header{}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	w := &discard{h: make(http.Header, 8)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		srv.h.ServeHTTP(w, r)
	}
}
