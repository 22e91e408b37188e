package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// minCompressSize is the smallest file gzipped on the fly (SPEC §2: 1 KiB).
const minCompressSize = 1024

// accepts reports whether an Accept-Encoding value admits coding (a
// lower-case token): named with a q above 0, or covered by "*".
func accepts(header, coding string) bool {
	star := false
	for header != "" {
		var part string
		part, header, _ = strings.Cut(header, ",")
		name, params, _ := strings.Cut(part, ";")
		name = strings.TrimSpace(name)
		ok := qNonZero(params)
		switch {
		case strings.EqualFold(name, coding):
			return ok
		case name == "*":
			star = ok
		}
	}
	return star
}

// qNonZero reports whether parameters (";q=0.5") leave the weight above 0.
func qNonZero(params string) bool {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && q > 0
		}
	}
	return true
}

// gzipPool recycles gzip writers: each holds about 800 KB of state.
type gzipPool struct{ p sync.Pool }

func (g *gzipPool) get(w io.Writer) *gzip.Writer {
	if z, ok := g.p.Get().(*gzip.Writer); ok {
		z.Reset(w)
		return z
	}
	z, _ := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	return z
}

func (g *gzipPool) put(z *gzip.Writer) { g.p.Put(z) }

// gzipped returns the gzip encoding of a memory-held entry, made once;
// nil when the entry is not in memory or compression saves nothing.
func (e *entry) gzipped(pool *gzipPool) *entry {
	if e.data == nil {
		return nil
	}
	e.gzOnce.Do(func() {
		var b bytes.Buffer
		z := pool.get(&b)
		_, _ = z.Write(e.data)
		if z.Close() != nil {
			return
		}
		pool.put(z)
		if b.Len() >= len(e.data) {
			return
		}
		st := e.stamp
		st.size = int64(b.Len())
		etag := strings.TrimSuffix(e.hdrETag[0], `"`) + `-gzip"`
		e.gz = newEntry(st, e.modTime, e.ctype, etag, bytes.Clone(b.Bytes()))
	})
	return e.gz
}

// slots bounds work done at once: acquire takes a slot if one is free.
type slots chan struct{}

// newGzipSlots bounds the gzip streams in flight: four per CPU.
func newGzipSlots() slots { return make(slots, 4*runtime.GOMAXPROCS(0)) }

func (s slots) acquire() bool {
	select {
	case s <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s slots) release() { <-s }
