//lint:file-ignore SA1019 x/net's http2.Server is deprecated in favour of http.Server, but net/http (Go 1.26) serves HTTP/2 over TLS only on a *tls.Conn: ServeConn is the one public way to serve it on a net.Conn of ours. With go1.27 x/net turns it into a wrapper over net/http's own server.

package httpconn

import (
	"context"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/http2"

	"github.com/twistd-go/twistd/protocol"
)

// h2Server serves the connections that choose h2: x/net's server, with
// an http.Server holding the handler and limits.
type h2Server struct {
	srv  *http2.Server
	base *http.Server
}

func newH2(srv *http.Server) h2Server {
	base := &http.Server{
		Handler:        srv.Handler,
		ReadTimeout:    srv.ReadTimeout,
		WriteTimeout:   srv.WriteTimeout,
		IdleTimeout:    srv.IdleTimeout,
		MaxHeaderBytes: srv.MaxHeaderBytes,
		ErrorLog:       srv.ErrorLog,
	}
	h2 := &http2.Server{}
	// For the graceful shutdown: base.Shutdown sends every connection
	// ServeConn serves a GOAWAY. It fails only on a TLSConfig, which base
	// has not.
	if err := http2.ConfigureServer(base, h2); err != nil {
		panic(err)
	}
	return h2Server{srv: h2, base: base}
}

// serve serves one HTTP/2 connection until it ends.
func (h h2Server) serve(nc net.Conn) {
	h.srv.ServeConn(nc, &http2.ServeConnOpts{BaseConfig: h.base, Handler: h.base.Handler})
	_ = nc.Close()
}

// shutdown sends every HTTP/2 connection a GOAWAY: each closes once its
// streams are done. It returns at once.
func (h h2Server) shutdown(ctx context.Context) { _ = h.base.Shutdown(ctx) }

// serveH2 hands a connection to the HTTP/2 server, data first, when its
// TLS handshake (done by its first data) picked h2; it reports whether it
// did. The connection is a protocol.Conn from then on.
func (c *conn) serveH2(data []byte) bool {
	cs, ok := c.t.(protocol.ConnectionStater)
	if !ok || cs.ConnectionState().NegotiatedProtocol != http2.NextProtoTLS {
		return false
	}
	h := protocol.NewConn(maxBuffered)
	c.mu.Lock()
	c.h2, c.served, c.expiry = h, true, time.Time{}
	if c.timer != nil {
		c.timer.Stop()
	}
	// Past Shutdown's GOAWAY, a new HTTP/2 connection would miss it.
	late := c.s.stopping.Load() && !c.closing
	if late {
		c.closing = true
	}
	c.mu.Unlock()
	h.ConnectionMade(c.t)
	h.DataReceived(data)
	if late {
		c.t.LoseConnection()
		return true
	}
	go c.s.h2.serve(h.NetConn())
	return true
}
