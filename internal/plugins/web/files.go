package web

import (
	"bytes"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"

	"github.com/twistd-go/twistd/protocol/httpconn"
)

// Header values shared by every response.
var (
	hdrBytes          = []string{"bytes"}
	hdrVaryEncoding   = []string{"Accept-Encoding"}
	hdrGzip           = []string{"gzip"}
	hdrBrotli         = []string{"br"}
	hdrTextHTML       = []string{"text/html; charset=utf-8"}
	hdrTextPlain      = []string{"text/plain; charset=utf-8"}
	hdrJSON           = []string{"application/json"}
	hdrNoSniff        = []string{"nosniff"}
	conditionalHeader = []string{"Range", "If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since"}
)

// maxRanges is the most ranges one request may ask for; more get a 200.
const maxRanges = 16

// serveFile answers a regular file: the best representation the client
// accepts (precompressed sibling, gzip on the fly, or the file itself).
func (h *handler) serveFile(w *recorder, r *http.Request, s *site, name string, fi fs.FileInfo) {
	e, err := s.cache.get(name, fi)
	if err != nil {
		h.fileError(w, r, name, err)
		return
	}
	if h.opts.Compress && compressible(e.ctype) {
		w.Header()["Vary"] = hdrVaryEncoding
		if ae := r.Header.Get("Accept-Encoding"); ae != "" {
			if h.servePrecompressed(w, r, s, name, e, ae) {
				return
			}
			if e.size >= minCompressSize && accepts(ae, "gzip") {
				if gz := e.gzipped(&h.gzip); gz != nil {
					w.Header()["Content-Encoding"] = hdrGzip
					h.sendEntry(w, r, s, name, gz, e.hdrCType)
					return
				}
				if e.data == nil && h.gzipSlots.acquire() {
					// Beyond the slots the file goes as it is: a
					// compressor is ~800 KB, held while the client
					// takes its time.
					defer h.gzipSlots.release()
					h.sendGzipStream(w, r, s, name, e)
					return
				}
			}
		}
	}
	h.sendEntry(w, r, s, name, e, e.hdrCType)
}

// servePrecompressed sends name.br or name.gz when the client takes that
// coding and the sibling exists; it reports whether it answered.
func (h *handler) servePrecompressed(w *recorder, r *http.Request, s *site, name string, e *entry, ae string) bool {
	for _, c := range [...]struct {
		coding, ext string
		hdr         []string
	}{{"br", ".br", hdrBrotli}, {"gzip", ".gz", hdrGzip}} {
		if !accepts(ae, c.coding) {
			continue
		}
		sib := name + c.ext
		fi, err := s.root.Stat(sib)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		se, err := s.cache.get(sib, fi)
		if err != nil {
			continue
		}
		w.Header()["Content-Encoding"] = c.hdr
		h.sendEntry(w, r, s, sib, se, e.hdrCType)
		return true
	}
	return false
}

// sendEntry sends one representation with its validators. Plain GETs and
// HEADs are answered directly; ranges and conditional requests go through
// http.ServeContent (304, 412, 206 single and multipart, 416).
func (h *handler) sendEntry(w *recorder, r *http.Request, s *site, name string, e *entry, ctype []string) {
	hdr := w.Header()
	hdr["Content-Type"] = ctype
	hdr["Etag"] = e.hdrETag
	hdr["Last-Modified"] = e.hdrLastMod
	hdr["Accept-Ranges"] = hdrBytes
	if rg := r.Header["Range"]; len(rg) > 0 && (len(rg) > 1 || strings.Count(rg[0], ",") >= maxRanges) {
		// Hundreds of tiny ranges are an amplification attack, not a download
		// manager: answer with the whole representation instead.
		r.Header.Del("Range")
	}
	if rg := r.Header["Range"]; len(rg) == 1 {
		// The unit is case-insensitive; one we do not know is ignored
		// (RFC 9110 §14.2), which http.ServeContent would answer 416.
		if len(rg[0]) >= 6 && strings.EqualFold(rg[0][:6], "bytes=") {
			rg[0] = "bytes=" + rg[0][6:]
		} else {
			r.Header.Del("Range")
		}
	}
	plain := true
	for _, k := range conditionalHeader {
		if _, ok := r.Header[k]; ok {
			plain = false
			break
		}
	}
	if plain {
		hdr["Content-Length"] = e.hdrLength
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodHead {
			return
		}
		if e.data != nil {
			_, _ = w.Write(e.data)
			return
		}
		f, err := s.root.Open(name)
		if err != nil {
			h.log.Warn("cannot open file after its headers were sent", zapFile(name), zapErr(err))
			return
		}
		defer f.Close()
		if e.size > 0 {
			httpconn.FileFollows(r) // the head leaves with the file's first bytes
		}
		_, _ = w.ReadFrom(io.LimitReader(f, e.size))
		return
	}
	var content io.ReadSeeker
	if e.data != nil {
		content = bytes.NewReader(e.data)
	} else {
		f, err := s.root.Open(name)
		if err != nil {
			h.fileError(w, r, name, err)
			return
		}
		defer f.Close()
		content = io.NewSectionReader(f, 0, e.size)
	}
	http.ServeContent(w, r, "", e.modTime, content)
}

// sendGzipStream gzips a file too large to hold in memory as it is sent:
// no Content-Length and no ranges, a weak validator for the encoding.
func (h *handler) sendGzipStream(w *recorder, r *http.Request, s *site, name string, e *entry) {
	hdr := w.Header()
	etag := "W/" + strings.TrimSuffix(e.hdrETag[0], `"`) + `-gzip"`
	hdr.Set("Etag", etag)
	hdr["Content-Type"] = e.hdrCType
	hdr["Last-Modified"] = e.hdrLastMod
	hdr["Content-Encoding"] = hdrGzip
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagListMatches(inm, etag) {
		delete(hdr, "Content-Type")
		delete(hdr, "Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	var f *os.File
	if r.Method != http.MethodHead {
		var err error
		if f, err = s.root.Open(name); err != nil {
			hdr.Del("Content-Encoding")
			hdr.Del("Etag")
			h.fileError(w, r, name, err)
			return
		}
		defer f.Close()
	}
	w.WriteHeader(http.StatusOK)
	if f == nil {
		return
	}
	z := h.gzip.get(writerOnly{w})
	if _, err := io.Copy(z, io.LimitReader(f, e.size)); err == nil && z.Close() == nil {
		h.gzip.put(z)
	}
}

// etagListMatches reports whether an If-None-Match list holds etag
// (weak comparison, as RFC 9110 asks for If-None-Match) or is "*".
func etagListMatches(list, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for list != "" {
		var t string
		t, list, _ = strings.Cut(list, ",")
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}
