package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/internal/config"
	"github.com/twistd-go/twistd/internal/protocol/httpconn"
	"github.com/twistd-go/twistd/internal/protocol/policy"
	"github.com/twistd-go/twistd/internal/service"
)

// Server is a running web service. Plain TCP (and unix) endpoints are
// driven by the reactor's event loops through httpconn: a keep-alive
// connection between requests costs no goroutine and no buffer (10,000
// idle ones add ~28 MB RSS, ~230 MB on net/http), and files go out with
// sendfile (the transport's protocol.FileSender). TWISTD_WEB_DRIVER=nethttp
// (DriverEnv) is the escape hatch: every endpoint on net/http's own
// goroutines, as before. TLS endpoints (HTTP/2) always stay on net/http,
// and so does everything when no reactor runs the service. Everything read
// from disk goes through an os.Root per site, so no request reaches
// outside its root.
type Server struct {
	opts *Options
	h    *handler
	// endpoints is how many listeners Start must be given.
	endpoints int

	mu     sync.Mutex
	srv    *http.Server // every endpoint but those on the event loops
	pol    *policy.Policy
	lns    []net.Listener
	loop   *httpconn.Server // plain endpoints on the event loops
	loops  []service.Server // the reactor's accept loops for them
	serves sync.WaitGroup
	log    *zap.Logger
	fresh  freshConns
}

// freshConns counts connections accepted whose first request has not
// been read yet (http.StateNew).
type freshConns struct {
	mu sync.Mutex
	m  map[net.Conn]struct{}
}

func (f *freshConns) track(c net.Conn, st http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st == http.StateNew {
		if f.m == nil {
			f.m = make(map[net.Conn]struct{})
		}
		f.m[c] = struct{}{}
		return
	}
	delete(f.m, c)
}

func (f *freshConns) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.m)
}

// newServer prepares a service from validated options: it opens the
// roots, reads the htpasswd file and the error pages (before privileges
// are dropped; the reactor loads ssl endpoints' key pairs), and starts
// nothing.
func newServer(opts *Options, listen config.Listen) (*Server, error) {
	t := newTypes(opts.MimeTypes, opts.MimeType)
	h := &handler{opts: opts, log: zap.NewNop()}
	var err error
	if h.site, err = openSite(string(opts.Path), t); err != nil {
		return nil, err
	}
	if len(opts.Vhosts) > 0 {
		h.vhosts = make(map[string]*site, len(opts.Vhosts))
		for host, dir := range opts.Vhosts {
			s, err := openSite(string(dir), t)
			if err != nil {
				return nil, fmt.Errorf("vhosts: %s: %w", host, err)
			}
			h.vhosts[strings.ToLower(strings.TrimSuffix(host, "."))] = s
		}
	}
	for name, v := range opts.AddHeaders {
		h.headers = append(h.headers, [2]string{http.CanonicalHeaderKey(name), v})
	}
	for _, p := range opts.Proxy {
		pr, err := newProxyRoute(p, h.log)
		if err != nil {
			return nil, fmt.Errorf("proxy %s: %w", p.Prefix, err)
		}
		h.proxies = append(h.proxies, pr)
	}
	if opts.BasicAuth != nil {
		if h.auth, err = newBasicAuth(opts.BasicAuth); err != nil {
			return nil, err
		}
	}
	if err := h.loadErrorPages(); err != nil {
		return nil, err
	}
	return &Server{opts: opts, h: h, endpoints: len(listen), log: zap.NewNop()}, nil
}

func (h *handler) loadErrorPages() error {
	files := make(map[int]string, len(h.opts.Errors))
	for code, f := range h.opts.Errors {
		files[code] = string(f)
	}
	pages, err := loadErrorPages(files)
	if err != nil {
		return err
	}
	h.errorPages.Store(&pages)
	return nil
}

// DriverEnv names the environment variable that chooses the driver of
// plain endpoints: "nethttp" keeps them on net/http (the escape hatch,
// should the event loops misbehave); anything else, or nothing, puts them
// on the reactor's event loops (see Server).
const DriverEnv = "TWISTD_WEB_DRIVER"

// onLoop reports whether plain endpoints go to the event loops.
func onLoop(env *service.Env) bool {
	return env.Runner != nil && os.Getenv(DriverEnv) != "nethttp"
}

// httpServer is an http.Server with the service's handler and limits.
func (s *Server) httpServer(log *zap.Logger) *http.Server {
	t := s.opts.Timeouts
	srv := &http.Server{
		Handler:           s.h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    int(s.opts.MaxHeaderBytes),
		ErrorLog:          zap.NewStdLog(log.WithOptions(zap.IncreaseLevel(zap.InfoLevel))),
	}
	if l, err := zap.NewStdLogAt(log, zap.DebugLevel); err == nil {
		srv.ErrorLog = l // TLS handshake noise from scanners: debug only
	}
	return srv
}

// Start serves on env's listeners: plain ones on the event loops with the
// stream policies wrapping the protocol factory; ssl ones with net/http,
// the policies wrapping the raw listener and TLS (HTTP/2 by ALPN) on top.
func (s *Server) Start(_ context.Context, env *service.Env) error {
	s.log = env.Logger
	s.h.log = env.Logger
	for _, p := range s.h.proxies {
		p.rp.ErrorLog = zap.NewStdLog(env.Logger)
		p.setLogger(env.Logger)
	}
	s.h.bind(env)
	if len(env.Listeners) != s.endpoints {
		return fmt.Errorf("got %d listeners for %d endpoints", len(env.Listeners), s.endpoints)
	}
	if s.opts.AccessLog != "" {
		a, err := openAccessLog(string(s.opts.AccessLog))
		if err != nil {
			return err
		}
		s.h.access.Store(a)
	}
	pol, err := policy.New(s.opts.Policies, env.Logger, env.Stats)
	if err != nil {
		s.closeLogs()
		return fmt.Errorf("policies: %w", err)
	}
	var lns []net.Listener
	var plain []service.Listener
	for _, l := range env.Listeners {
		if l.Stream == nil {
			_ = pol.Close()
			s.closeLogs()
			return fmt.Errorf("listen %s: the web service speaks TCP only", l.Endpoint)
		}
		if l.TLS == nil && onLoop(env) {
			plain = append(plain, l)
			continue
		}
		// PROXY header, then the policies, then TLS (re-read by the
		// reactor on reload): net/http sees *tls.Conn values, for HTTP/2.
		lns = append(lns, tls.NewListener(pol.WrapListener(l.Stream), l.TLS))
	}
	srv := s.httpServer(env.Logger)
	srv.ConnState = s.fresh.track
	var loop *httpconn.Server
	var loops []service.Server
	if len(plain) > 0 {
		loop = httpconn.New(s.httpServer(env.Logger))
		f := pol.WrapFactory(loop.Factory())
		for _, l := range plain {
			loops = append(loops, env.Runner.ServeStream(l, f))
		}
	}
	s.mu.Lock()
	s.srv, s.pol, s.lns, s.loop, s.loops = srv, pol, lns, loop, loops
	s.mu.Unlock()
	for _, ln := range lns {
		s.serves.Go(func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				env.Logger.Error("serving stopped", zap.String("addr", ln.Addr().String()), zap.Error(err))
			}
		})
	}
	return nil
}

// Stop stops accepting, lets requests in flight (downloads included)
// finish until ctx ends, then closes what is left.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	srv, pol, lns, loop, loops := s.srv, s.pol, s.lns, s.loop, s.loops
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	// The event loops: each accept loop stops accepting and waits for its
	// connections, which loop.Shutdown closes as they become idle.
	loopErrs := make([]error, len(loops)+1)
	var loopsDone sync.WaitGroup
	for i, l := range loops {
		loopsDone.Go(func() { loopErrs[i] = l.Shutdown(ctx) })
	}
	if loop != nil {
		loopsDone.Go(func() { loopErrs[len(loops)] = loop.Shutdown(ctx) })
	}
	// Stop accepting first, and let the connections just accepted deliver
	// their first request: net/http drops a request it reads after
	// Shutdown began, and a client on a new connection does not retry.
	// (On a reload the replacement accepts from the same socket meanwhile.)
	for _, ln := range lns {
		_ = ln.Close()
	}
	served := make(chan struct{})
	go func() { s.serves.Wait(); close(served) }()
	select { // Serve has returned: every accepted connection is tracked
	case <-served:
	case <-ctx.Done():
	}
	for wait := time.Now().Add(time.Second); s.fresh.count() > 0 && time.Now().Before(wait) && ctx.Err() == nil; {
		time.Sleep(5 * time.Millisecond)
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		_ = srv.Close()
	}
	s.serves.Wait()
	loopsDone.Wait()
	if err == nil {
		for _, e := range loopErrs {
			if e != nil {
				err = e
				break
			}
		}
	}
	if pol != nil {
		_ = pol.Close()
	}
	s.closeLogs()
	_ = s.h.site.close()
	for _, v := range s.h.vhosts {
		_ = v.close()
	}
	return err
}

func (s *Server) closeLogs() {
	if a := s.h.access.Swap(nil); a != nil {
		_ = a.Close()
	}
}

// Reload re-reads the service's data files in place: the htpasswd file and
// the error pages (the reactor re-reads certificates), and forgets cached
// file data.
// What fails to load keeps its previous version; the errors are returned.
func (s *Server) Reload(context.Context) error {
	var errs []error
	if s.h.auth != nil {
		errs = append(errs, s.h.auth.load())
	}
	errs = append(errs, s.h.loadErrorPages())
	s.h.site.cache.reset()
	for _, v := range s.h.vhosts {
		v.cache.reset()
	}
	return errors.Join(errs...)
}

// Reopen reopens the access log and the traffic log (SIGUSR1).
func (s *Server) Reopen() error {
	var errs []error
	if a := s.h.access.Load(); a != nil {
		errs = append(errs, a.Reopen())
	}
	s.mu.Lock()
	pol := s.pol
	s.mu.Unlock()
	if pol != nil {
		errs = append(errs, pol.Reopen())
	}
	return errors.Join(errs...)
}

var (
	_ service.Service  = (*Server)(nil)
	_ service.Reloader = (*Server)(nil)
	_ service.Reopener = (*Server)(nil)
)
