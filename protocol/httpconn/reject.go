package httpconn

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"time"
)

// RejectHandler is an optional capability of a Server's http.Handler: it
// learns of every request net/http answers itself before a handler runs
// (400 for a malformed head or an ambiguous framing, 431 for a head over
// MaxHeaderBytes, 501 for an unknown transfer coding, 417), so that they
// are counted and logged like the others. New finds it by type assertion.
type RejectHandler interface {
	// ServeRejected is called once the refusal is written, on the
	// connection's goroutine; it must not keep r.
	ServeRejected(r *RejectedRequest)
}

// RejectedRequest is a request net/http answered itself.
type RejectedRequest struct {
	Status int
	// RequestLine is the request's first line as received (bounded to
	// 1 KiB), "" when none was.
	RequestLine string
	Peer        net.Addr
	Size        int64     // body bytes of the answer
	Start       time.Time // when its head began to be read
}

// connKey is the context key under which New's ConnContext puts the
// *active a request came on.
type connKey struct{}

// markHandled wraps h: a request that reaches it has its active marked,
// so what is written next is the handler's answer, not net/http's own.
func markHandled(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := r.Context().Value(connKey{}).(*active)
		if ok {
			a.c.mu.Lock()
			a.handled = true
			a.c.mu.Unlock()
		}
		h.ServeHTTP(w, r)
		if ok {
			a.noFileNext() // net/http's last flush leaves at once
		}
	})
}

// connContext records the active in the context of its requests.
func connContext(ctx context.Context, nc net.Conn) context.Context {
	switch a := nc.(type) {
	case *active:
		return context.WithValue(ctx, connKey{}, a)
	case tlsActive:
		return context.WithValue(ctx, connKey{}, a.active)
	}
	return ctx
}

// rejected reports a write net/http makes with no handler begun since
// the last response: its own refusal of a request, status line first.
func (a *active) rejected(p []byte, line string, start time.Time) {
	const prefix = "HTTP/1.1 "
	if a.c.s.reject == nil || len(p) < len(prefix)+3 || string(p[:len(prefix)]) != prefix {
		return
	}
	code := 0
	for _, d := range p[len(prefix) : len(prefix)+3] {
		if d < '0' || d > '9' {
			return
		}
		code = code*10 + int(d-'0')
	}
	var size int64
	if i := bytes.Index(p, endOfHead); i >= 0 {
		size = int64(len(p) - i - len(endOfHead))
	}
	a.c.s.reject.ServeRejected(&RejectedRequest{Status: code, RequestLine: line, Peer: a.c.t.PeerAddr(),
		Size: size, Start: start})
}
