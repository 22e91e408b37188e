package httpconn_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/twistd-go/twistd/protocol/httpconn"
	"github.com/twistd-go/twistd/service"
)

// hello is a service serving a net/http handler on the reactor's
// connections: idle keep-alive connections cost no goroutine.
type hello struct {
	srv     *httpconn.Server
	servers []service.Server
}

func (h *hello) Start(ctx context.Context, env *service.Env) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello") })
	h.srv = httpconn.New(&http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute})
	for _, l := range env.Listeners {
		if l.Stream == nil {
			return errors.New("hello speaks TCP only")
		}
		// ssl: endpoints offer HTTP/2 by ALPN; the reactor does the handshake.
		h.servers = append(h.servers, env.Runner.ServeStream(l.WithALPN("h2", "http/1.1"), h.srv.Factory()))
	}
	return nil
}

func (h *hello) Stop(ctx context.Context) error {
	for _, s := range h.servers {
		_ = s.Shutdown(ctx) // stop accepting
	}
	return h.srv.Shutdown(ctx) // drain requests in flight until ctx ends
}

func ExampleNew() {
	var _ service.Service = &hello{} // a plugin's New returns one
}
