package web

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
)

// recorder is the ResponseWriter handlers see: it remembers the status and
// counts the body bytes for the access log and metrics, and passes
// ReadFrom (so files go out with sendfile), Flush and Hijack through.
type recorder struct {
	w       http.ResponseWriter
	status  int
	written int64
}

var recorders = sync.Pool{New: func() any { return new(recorder) }}

func newRecorder(w http.ResponseWriter) *recorder {
	rec := recorders.Get().(*recorder)
	*rec = recorder{w: w}
	return rec
}

func (rec *recorder) free() {
	rec.w = nil
	recorders.Put(rec)
}

func (rec *recorder) Header() http.Header { return rec.w.Header() }

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 && code >= 200 || code == http.StatusSwitchingProtocols {
		rec.status = code
	}
	rec.w.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	n, err := rec.w.Write(b)
	rec.written += int64(n)
	return n, err
}

// ReadFrom lets net/http hand a file to the kernel (sendfile) when the
// connection allows it.
func (rec *recorder) ReadFrom(src io.Reader) (int64, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := rec.w.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{rec.w}, src)
	}
	rec.written += n
	return n, err
}

// Flush sends buffered data now (for streamed proxy responses).
func (rec *recorder) Flush() {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if f, ok := rec.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack hands the connection over (for proxied protocol upgrades).
func (rec *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(rec.w).Hijack()
}

// Unwrap gives http.ResponseController the writer underneath.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.w }

// code is the status sent, 200 when nothing was written.
func (rec *recorder) code() int {
	if rec.status == 0 {
		return http.StatusOK
	}
	return rec.status
}

// writerOnly hides a writer's other methods so io.Copy cannot loop back
// into ReadFrom.
type writerOnly struct{ io.Writer }

var (
	_ http.Flusher  = (*recorder)(nil)
	_ http.Hijacker = (*recorder)(nil)
	_ io.ReaderFrom = (*recorder)(nil)
)
