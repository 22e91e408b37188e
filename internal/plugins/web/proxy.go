package web

import (
	"context"
	"errors"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"

	"go.uber.org/zap"
)

// proxyRoute is one running proxy: entry.
type proxyRoute struct {
	log    atomic.Pointer[zap.Logger]
	prefix string
	strip  bool
	target *url.URL
	rp     *httputil.ReverseProxy
}

func newProxyRoute(p ProxyRoute, log *zap.Logger) (*proxyRoute, error) {
	target, err := url.Parse(p.To)
	if err != nil {
		return nil, err
	}
	pr := &proxyRoute{prefix: p.Prefix, strip: p.StripPrefix, target: target}
	pr.log.Store(log)
	upstream := target.String()
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.ResponseHeaderTimeout = 0
	transport.MaxIdleConnsPerHost = 64
	pr.rp = &httputil.ReverseProxy{
		Rewrite: func(pr2 *httputil.ProxyRequest) {
			if pr.strip {
				stripPrefix(pr2.Out.URL, pr.prefix)
			}
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
			if errors.Is(err, context.DeadlineExceeded) {
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
