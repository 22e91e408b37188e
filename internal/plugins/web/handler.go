package web

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/twistd-go/twistd/service"
)

// handler is a web service's http.Handler: counting and logging around
// routing to the proxy, basic auth and the static files of the site the
// Host header picks.
type handler struct {
	opts       *Options
	log        *zap.Logger
	site       *site            // path:
	vhosts     map[string]*site // lower-case host → site
	proxies    []*proxyRoute
	auth       *basicAuth // nil: no basic_auth
	headers    [][2]string
	errorPages atomic.Pointer[errorPages]
	access     atomic.Pointer[accessLog] // nil pointer: no access log
	gzip       gzipPool
	gzipSlots  slots // the gzip streams that may run at once

	// Counters, set by bind once the service knows its name and metrics.
	stats    *service.Stats
	byCode   [600]prometheus.Counter // common codes, looked up once
	codes    *prometheus.CounterVec
	duration prometheus.Observer
	name     string
}

// The web service's metrics (SPEC §6), made in the process's registry.
var (
	httpRequests = prometheus.CounterOpts{Name: "twistd_http_requests_total",
		Help: "HTTP requests answered, by service and status code."} // service, code
	httpDuration = prometheus.HistogramOpts{Name: "twistd_http_request_duration_seconds",
		Help: "Time to answer HTTP requests, by service.", Buckets: append(prometheus.ExponentialBuckets(0.0001, 2, 17), 30, 60)} // service: 100 µs to 6.6 s, then 30 s and 60 s (proxied)
	// httpAuthFailures counts failed basic-auth logins: credentials
	// checked and wrong (not requests without any, nor ones refused by
	// max_failures_per_peer, which are 429s in twistd_http_requests_total).
	// Per peer they are counted in memory only: a label would be unbounded.
	httpAuthFailures = prometheus.CounterOpts{Name: "twistd_http_auth_failures_total",
		Help: "Failed HTTP basic-auth logins (wrong user or password), by service."} // service
)

// commonCodes get their counter looked up when the service starts.
var commonCodes = []int{200, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405, 408, 412, 416, 431, 500, 502, 503, 504}

// bind attaches the counters of env.
func (h *handler) bind(env *service.Env) {
	h.stats, h.name = env.Stats, env.Name
	h.codes = env.Metrics.Counter(httpRequests, "service", "code")
	h.duration = env.Metrics.Histogram(httpDuration, "service").WithLabelValues(env.Name)
	for _, c := range commonCodes {
		h.byCode[c] = h.codes.WithLabelValues(env.Name, strconv.Itoa(c))
	}
	if h.auth != nil {
		h.auth.bind(env.Logger, env.Metrics.Counter(httpAuthFailures, "service").WithLabelValues(env.Name))
	}
}

// ServeHTTP answers one request and counts and logs it.
func (h *handler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	w := newRecorder(rw)
	user := h.route(w, r)
	code := w.code()
	h.count(code, start)
	if a := h.access.Load(); a != nil {
		if err := a.log(r, user, code, w.written, start); err != nil {
			h.log.Warn("writing the access log", zap.Error(err))
		}
	}
	w.free()
}

// count counts a request answered with code, begun at start.
func (h *handler) count(code int, start time.Time) {
	if h.stats == nil {
		return
	}
	h.stats.Requests.Add(1)
	h.duration.Observe(time.Since(start).Seconds())
	if code >= 0 && code < len(h.byCode) && h.byCode[code] != nil {
		h.byCode[code].Inc()
	} else {
		h.codes.WithLabelValues(h.name, strconv.Itoa(code)).Inc()
	}
}

// route sends the request where it belongs; it returns the basic-auth
// user, if any, for the access log.
func (h *handler) route(w *recorder, r *http.Request) (user string) {
	for _, kv := range h.headers {
		w.Header()[kv[0]] = []string{kv[1]}
	}
	name, dirSlash, err := cleanPath(r.URL.Path, r.URL.RawPath)
	if err != nil {
		h.log.Info("refused a bad request path", zap.String("uri", r.RequestURI), zap.String("remote", r.RemoteAddr))
		h.fail(w, r, http.StatusBadRequest)
		return ""
	}
	var clean string // the path rules match on: "/" + name (+ "/")
	if h.auth != nil || len(h.proxies) > 0 {
		clean = "/" + name
		if name == "." {
			clean = "/"
		} else if dirSlash {
			clean += "/"
		}
	}
	if h.auth != nil && h.auth.protects(clean) {
		u, ok, wait := h.auth.check(r)
		if wait > 0 {
			w.Header()["Retry-After"] = []string{strconv.Itoa(int((wait + time.Second - 1) / time.Second))}
			h.fail(w, r, http.StatusTooManyRequests)
			return ""
		}
		if !ok {
			w.Header()["Www-Authenticate"] = h.auth.challenge
			h.fail(w, r, http.StatusUnauthorized)
			return ""
		}
		user = u
	}
	for _, p := range h.proxies {
		if p.matches(clean) {
			p.serve(w, r, clean)
			return user
		}
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		w.WriteHeader(http.StatusNoContent)
		return user
	default:
		h.fail(w, r, http.StatusMethodNotAllowed)
		return user
	}
	if hidden(name, h.opts.Hidden) {
		h.fail(w, r, http.StatusNotFound)
		return user
	}
	h.serveStatic(w, r, h.siteFor(r.Host), name, dirSlash)
	return user
}

// siteFor picks the root for a Host header: a virtual host's, else path:.
func (h *handler) siteFor(host string) *site {
	if len(h.vhosts) == 0 {
		return h.site
	}
	if hst, _, err := net.SplitHostPort(host); err == nil {
		host = hst
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if s, ok := h.vhosts[host]; ok {
		return s
	}
	return h.site
}

func zapFile(name string) zap.Field { return zap.String("file", name) }
func zapErr(err error) zap.Field    { return zap.Error(err) }
