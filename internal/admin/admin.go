// Package admin serves the process's admin endpoint: /healthz, /readyz,
// /metrics, /status (JSON for programs, a page with live charts for
// people, drawn from the time series at /status/series)
// and, when asked, /debug/pprof/.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/twistd-go/twistd/protocol/httpconn"
	"github.com/twistd-go/twistd/service"
)

// Status is the /status document (SPEC §6).
type Status struct {
	PID           int             `json:"pid"`
	Version       string          `json:"version"`
	UptimeSeconds float64         `json:"uptime_seconds"`
	Config        string          `json:"config"`
	State         string          `json:"state"`
	LastReload    *Reload         `json:"last_reload"`
	Services      []ServiceStatus `json:"services"`
	// Reloads are the recent reloads, newest first; RecentErrors the
	// recent warnings and errors of the process log, newest first.
	Reloads      []Reload  `json:"reloads"`
	RecentErrors []LogLine `json:"recent_errors"`
}

// LogLine is one warning or error of the process log.
type LogLine struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Service string    `json:"service"`
	Message string    `json:"msg"`
	Fields  string    `json:"fields"`
}

// Reload is the outcome of the last reload.
type Reload struct {
	Time   time.Time `json:"time"`
	Result string    `json:"result"` // "ok" or "failed"
	Error  string    `json:"error"`
}

// ServiceStatus is one service in /status.
type ServiceStatus struct {
	Name              string     `json:"name"`
	Type              string     `json:"type"`
	State             string     `json:"state"`
	Listeners         []Listener `json:"listeners"`
	ConnectionsActive int64      `json:"connections_active"`
	ConnectionsTotal  int64      `json:"connections_total"`
	BytesIn           int64      `json:"bytes_in"`
	BytesOut          int64      `json:"bytes_out"`
	Requests          int64      `json:"requests"`
	// Error is the service's last failure after start ("" if none);
	// Failures and Restarts count failures and restarts (on_failure).
	Error    string `json:"error"`
	Failures int64  `json:"failures"`
	Restarts int64  `json:"restarts"`
	// Details is what the service reports beyond these (procmon: its
	// processes); absent for most.
	Details any `json:"details,omitempty"`
}

// Listener is one real listen address.
type Listener struct {
	Network string `json:"network"`
	Address string `json:"address"`
}

// Source tells the admin endpoint about the process.
type Source interface {
	// Ready reports whether the process is between ready and stopping.
	Ready() bool
	// Status returns a fresh snapshot.
	Status() Status
}

// Options configure the admin service.
type Options struct {
	Source   Source
	Registry *prometheus.Registry
	Pprof    bool
	// Series, if set, is served as /status/series and sampled while
	// the endpoint runs.
	Series *Series
}

// Service is the admin endpoint as a service.Service: the reactor binds
// its socket with the others and stops it last.
type Service struct {
	opts Options

	mu      sync.Mutex
	http    *httpconn.Server
	servers []service.Server
}

// New returns the admin service. With Pprof, heap profiles cover only
// what was allocated after the process turned sampling on (internal/cli
// keeps it off until the admin endpoint can serve them).
func New(opts Options) *Service {
	return &Service{opts: opts}
}

// Handler returns the admin routes.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !s.opts.Source.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /status", s.status)
	mux.HandleFunc("GET /status/series", s.serveSeries)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/status", http.StatusFound)
	})
	if s.opts.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func (s *Service) status(w http.ResponseWriter, r *http.Request) {
	st := s.opts.Source.Status()
	if wantsJSON(r) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(st)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = writePage(w, st)
}

// wantsJSON reads the Accept header: JSON when it is preferred over HTML.
func wantsJSON(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}

// Start serves the admin routes on every listener, through the reactor's
// stream path like every service (so haproxy:, ssl: and unix: endpoints
// work as they do elsewhere).
func (s *Service) Start(_ context.Context, env *service.Env) error {
	for _, l := range env.Listeners {
		if l.Stream == nil {
			return errors.New("the admin endpoint needs a stream endpoint")
		}
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second,
		ErrorLog: zap.NewStdLog(env.Logger)}
	hs := httpconn.New(srv)
	var servers []service.Server
	for _, l := range env.Listeners {
		if a, ok := l.Stream.Addr().(*net.TCPAddr); ok && !a.IP.IsLoopback() {
			env.Logger.Warn("the admin endpoint listens on a non-loopback address: anyone who reaches it sees the status and metrics",
				zap.Stringer("addr", a))
		}
		servers = append(servers, env.Runner.ServeStream(l, hs.Factory()))
	}
	s.mu.Lock()
	s.http, s.servers = hs, servers
	s.mu.Unlock()
	if s.opts.Series != nil {
		s.opts.Series.Acquire()
	}
	return nil
}

// Stop shuts the admin endpoint down; it is the last service to stop, so
// /readyz answers 503 throughout the drain.
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	hs, servers := s.http, s.servers
	s.http, s.servers = nil, nil
	s.mu.Unlock()
	if hs == nil {
		return nil
	}
	if s.opts.Series != nil {
		s.opts.Series.Release()
	}
	errs := make([]error, len(servers)+1)
	var wg sync.WaitGroup
	for i, srv := range servers {
		wg.Go(func() { errs[i] = srv.Shutdown(ctx) })
	}
	errs[len(servers)] = hs.Shutdown(ctx)
	wg.Wait()
	return errors.Join(errs...)
}

var _ service.Service = (*Service)(nil)
