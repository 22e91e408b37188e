package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/policy"
	"github.com/twistd-go/twistd/protocol/httpconn"
	"github.com/twistd-go/twistd/service"
)

// Server is a running web service. Every endpoint — plain or ssl:, tcp or
// unix, behind haproxy: or not — is served the same way: httpconn's
// protocol under the stream policies, given to the reactor's
// Runner.ServeStream, which picks the driver (its event loops, or a
// goroutine per connection for TLS) and reads the PROXY header and does
// TLS itself. A keep-alive connection between requests costs no goroutine
// and no buffer on the loops (10,000 idle ones add ~28 MB RSS, ~230 MB on
// net/http's own), files go out with sendfile where the transport can, and
// TLS connections that chose h2 are served by HTTP/2. Everything read
// from disk goes through an os.Root per site, so no request reaches
// outside its root.
type Server struct {
	opts *Options
	h    *handler
	// endpoints is how many listeners Start must be given.
	endpoints int

	mu      sync.Mutex
	pol     *policy.Policy
	conns   *httpconn.Server // the HTTP on every connection
	servers []service.Server // the reactor's accept loops, one per listener
	log     *zap.Logger
}

// newServer prepares a service from validated options: it opens the
// roots and the access log, reads the htpasswd file and the error pages
// (before privileges are dropped; the reactor loads ssl endpoints' key
// pairs), and starts nothing.
func newServer(opts *Options, listen []endpoint.Endpoint) (*Server, error) {
	t := newTypes(opts.MimeTypes, opts.MimeType)
	h := &handler{opts: opts, log: zap.NewNop(), gzipSlots: newGzipSlots()}
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
	if opts.AccessLog != "" {
		a, err := openAccessLog(string(opts.AccessLog), opts.openLog)
		if err != nil {
			return nil, err
		}
		h.access.Store(a)
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

// httpServer is an http.Server with the service's handler and limits.
func (s *Server) httpServer(log *zap.Logger) *http.Server {
	t := s.opts.Timeouts
	// read and write are httpconn's inactivity timeouts, not net/http's
	// whole-request and whole-response ones: a long download or upload
	// that makes progress is never cut off.
	srv := &http.Server{
		Handler:           s.h,
		ReadHeaderTimeout: t.ReadHeader,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    int(s.opts.MaxHeaderBytes),
		ErrorLog:          zap.NewStdLog(log.WithOptions(zap.IncreaseLevel(zap.InfoLevel))),
	}
	if l, err := zap.NewStdLogAt(log, zap.DebugLevel); err == nil {
		srv.ErrorLog = l // protocol noise from scanners: debug only
	}
	return srv
}

// Start serves on env's listeners: the stream policies wrap httpconn's
// factory, and env.Runner drives each listener with it.
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
	for _, l := range env.Listeners {
		if l.Stream == nil {
			return fmt.Errorf("listen %s: the web service speaks TCP only", l.Endpoint)
		}
	}
	pol, err := policy.New(s.opts.Policies.Config(), env.Logger, env.Stats)
	if err != nil {
		s.closeLogs()
		return fmt.Errorf("policies: %w", err)
	}
	conns := httpconn.NewServer(s.httpServer(env.Logger),
		httpconn.Options{ReadIdle: s.opts.Timeouts.Read, WriteIdle: s.opts.Timeouts.Write})
	f := pol.WrapFactory(conns.Factory())
	servers := make([]service.Server, 0, len(env.Listeners))
	for _, l := range env.Listeners {
		servers = append(servers, env.Runner.ServeStream(l.WithALPN("h2", "http/1.1"), f))
	}
	s.mu.Lock()
	s.pol, s.conns, s.servers = pol, conns, servers
	s.mu.Unlock()
	return nil
}

// Stop stops accepting, lets requests in flight (downloads included)
// finish until ctx ends, then closes what is left.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	pol, conns, servers := s.pol, s.conns, s.servers
	s.mu.Unlock()
	if conns == nil {
		return nil
	}
	// Each accept loop stops accepting and waits for its connections,
	// which conns.Shutdown closes as they become idle. (On a reload the
	// replacement accepts from the same socket meanwhile.)
	errs := make([]error, len(servers)+1)
	var done sync.WaitGroup
	for i, l := range servers {
		done.Go(func() { errs[i] = l.Shutdown(ctx) })
	}
	errs[len(servers)] = conns.Shutdown(ctx)
	done.Wait()
	var err error
	for _, e := range errs {
		if e != nil {
			err = e
			break
		}
	}
	_ = pol.Close()
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
