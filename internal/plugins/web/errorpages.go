package web

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
)

// errorPages holds the custom pages of errors:, read at start and on reload.
type errorPages map[int][]byte

func loadErrorPages(files map[int]string) (errorPages, error) {
	pages := make(errorPages, len(files))
	for code, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("errors: %d: %w", code, err)
		}
		pages[code] = b
	}
	return pages, nil
}

// fail answers an error status: the custom page for it if there is one,
// else a short text. Headers meant for a file are dropped.
func (h *handler) fail(w *recorder, r *http.Request, code int) {
	hdr := w.Header()
	for _, k := range [...]string{"Etag", "Last-Modified", "Content-Encoding", "Accept-Ranges", "Content-Length"} {
		delete(hdr, k)
	}
	if code == http.StatusMethodNotAllowed {
		hdr.Set("Allow", "GET, HEAD, OPTIONS")
	}
	var body []byte
	if pages := h.errorPages.Load(); pages != nil {
		body = (*pages)[code]
	}
	if body != nil {
		hdr["Content-Type"] = hdrTextHTML
	} else if code >= 400 {
		hdr["Content-Type"] = hdrTextPlain
		hdr["X-Content-Type-Options"] = hdrNoSniff
		body = []byte(strconv.Itoa(code) + " " + http.StatusText(code) + "\n")
	}
	if body != nil {
		hdr.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(code)
	if r.Method != http.MethodHead && body != nil {
		_, _ = w.Write(body)
	}
}
