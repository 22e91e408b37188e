package web

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// proxyRoute is one running proxy: entry.
type proxyRoute struct {
	log    atomic.Pointer[zap.Logger]
	prefix string
	strip  bool
	// upgrade forwards protocol upgrades (websocket: true).
	upgrade bool
	target  *url.URL
	rp      *httputil.ReverseProxy
}

func newProxyRoute(p ProxyRoute, log *zap.Logger) (*proxyRoute, error) {
	target, err := url.Parse(p.To)
	if err != nil {
		return nil, err
	}
	pr := &proxyRoute{prefix: p.Prefix, strip: p.StripPrefix, upgrade: p.WebSocket, target: target}
	pr.log.Store(log)
	upstream := target.String()
	t := p.Timeouts
	transport := http.DefaultTransport.(*http.Transport).Clone()
	dialer := &net.Dialer{Timeout: orDefault(t.Connect, DefaultProxyConnectTimeout), KeepAlive: 30 * time.Second}
	transport.DialContext = dialer.DialContext
	transport.ResponseHeaderTimeout = orDefault(t.ResponseHeader, DefaultProxyResponseHeaderTimeout)
	transport.IdleConnTimeout = orDefault(t.Idle, DefaultProxyIdleTimeout)
	transport.MaxIdleConnsPerHost = 64
	pr.rp = &httputil.ReverseProxy{
		Rewrite: func(pr2 *httputil.ProxyRequest) {
			pr2.SetURL(target)
			pr2.SetXForwarded()
			pr2.Out.Host = pr2.In.Host // the site's name, as nginx's proxy_set_header Host $host
		},
		Transport:     transport,
		FlushInterval: -1, // stream: flush every write (server-sent events, long downloads)
		ErrorLog:      zap.NewStdLog(log),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log := pr.log.Load()
			code := http.StatusBadGateway
			var ne net.Error
			if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
				code = http.StatusGatewayTimeout
			}
			if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
				log.Debug("client went away during a proxied request", zap.String("upstream", upstream),
					zap.String("path", r.URL.Path))
				code = 499 // nginx's "client closed request", for the log only
			} else {
				log.Warn("upstream failed", zap.String("upstream", upstream), zap.String("path", r.URL.Path),
					zap.Error(err))
			}
			w.WriteHeader(code)
		},
	}
	return pr, nil
}

// serve forwards a request whose clean path is clean. TRACE is not
// forwarded (it would echo what the proxy adds, credentials included);
// an upgrade goes through only where the route enables it; strip_prefix
// strips the cleaned path, so //api/x is /x past an /api/ prefix.
func (pr *proxyRoute) serve(w http.ResponseWriter, r *http.Request, clean string) {
	if r.Method == http.MethodTrace {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if !pr.upgrade && (r.Header.Get("Upgrade") != "" || r.Method == http.MethodConnect) {
		if r.Method == http.MethodConnect {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		// ReverseProxy forwards Upgrade with Connection: upgrade; a
		// plain request it is.
		r.Header.Del("Upgrade")
		r.Header.Del("Connection")
	}
	if pr.strip {
		u := *r.URL
		u.Path, u.RawPath = clean, ""
		stripPrefix(&u, pr.prefix)
		r.URL = &u
	}
	pr.rp.ServeHTTP(w, r)
}

// orDefault is d, or def when d is zero.
func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// matches reports whether a clean request path falls under the route:
// "/api/" matches "/api/x" and "/api" itself (the directory, unslashed).
func (pr *proxyRoute) matches(p string) bool {
	return strings.HasPrefix(p, pr.prefix) || p+"/" == pr.prefix
}

// stripPrefix removes prefix from u's path, keeping a leading slash.
func stripPrefix(u *url.URL, prefix string) {
	keep := strings.TrimSuffix(prefix, "/")
	u.Path = "/" + strings.TrimPrefix(strings.TrimPrefix(u.Path, keep), "/")
	if u.RawPath != "" {
		u.RawPath = "/" + strings.TrimPrefix(strings.TrimPrefix(u.RawPath, keep), "/")
	}
}

// setLogger makes the route log as its service.
func (pr *proxyRoute) setLogger(log *zap.Logger) { pr.log.Store(log) }
