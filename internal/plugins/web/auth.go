package web

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/twistd-go/twistd/htpasswd"
	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/policy"
)

// basicAuth checks HTTP basic credentials on protected path prefixes
// against an htpasswd file (bcrypt or {SHA}).
type basicAuth struct {
	file      string
	challenge []string // WWW-Authenticate value
	paths     []string
	users     *htpasswd.File
	// fails counts failed logins per peer, for max_failures_per_peer
	// and for the log.
	fails *failures

	// Set by bind: the service's logger and twistd_http_auth_failures_total.
	log    *zap.Logger
	failed prometheus.Counter
}

// maxFailingPeers bounds the peers whose failed logins are remembered.
const maxFailingPeers = 1 << 16

func newBasicAuth(cfg *BasicAuth) (*basicAuth, error) {
	realm := cfg.Realm
	if realm == "" {
		realm = "restricted"
	}
	a := &basicAuth{file: string(cfg.Htpasswd), paths: cfg.Paths,
		challenge: []string{`Basic realm="` + realm + `", charset="UTF-8"`},
		log:       zap.NewNop(), failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "unbound"})}
	limit := defaultMaxFailures
	if cfg.MaxFailuresPerPeer != nil {
		limit = *cfg.MaxFailuresPerPeer
	}
	a.fails = newFailures(limit, maxFailingPeers, time.Now)
	users, err := htpasswdOptions.Load(a.file)
	if err != nil {
		return nil, fmt.Errorf("htpasswd: %w", err)
	}
	a.users = users
	return a, nil
}

// bind attaches the service's logger and its count of failed logins.
func (a *basicAuth) bind(log *zap.Logger, failed prometheus.Counter) {
	a.log, a.failed = log, failed
}

// htpasswdOptions are the entries basic_auth's file may hold: bcrypt
// ($2y$, $2a$, $2b$; htpasswd -B) and {SHA}; MD5 ($apr1$) and crypt(3)
// entries are refused with the line they are on.
var htpasswdOptions = htpasswd.Options{SHA1: true}

// load re-reads the htpasswd file; on error the previous users stay.
func (a *basicAuth) load() error {
	if err := a.users.Reload(); err != nil {
		return fmt.Errorf("htpasswd: %w", err)
	}
	return nil
}

// protects reports whether a clean request path needs credentials.
func (a *basicAuth) protects(p string) bool {
	if len(a.paths) == 0 {
		return true
	}
	for _, pre := range a.paths {
		if strings.HasPrefix(p, pre) || p+"/" == pre {
			return true
		}
	}
	return false
}

// check returns the authenticated user, or ok false. A positive wait
// means the peer is over max_failures_per_peer: it is to be answered 429
// with Retry-After, and no password was checked (the right one would get
// 429 too, or the limit would still answer guesses). A request without
// credentials, a browser's first, is no failure and never limited.
func (a *basicAuth) check(r *http.Request) (user string, ok bool, wait time.Duration) {
	user, pass, has := r.BasicAuth()
	if !has {
		return "", false, 0
	}
	peer := peerKey(r.RemoteAddr)
	if wait, first := a.fails.admit(peer); wait > 0 {
		if first {
			a.log.Info("refusing logins over max_failures_per_peer", zap.String("remote", r.RemoteAddr),
				zap.Duration("retry_after", wait))
		}
		return "", false, wait
	}
	if a.login(user, pass) {
		a.fails.succeeded(peer)
		return user, true, 0
	}
	a.failed.Inc()
	if log, n := a.fails.failed(peer); log {
		if len(user) > 64 {
			user = user[:64]
		}
		a.log.Info("failed basic auth login", zap.String("remote", r.RemoteAddr), zap.String("user", user),
			zap.Int("failures", n))
	}
	return "", false, 0
}

// login reports whether user's password is pass.
func (a *basicAuth) login(user, pass string) bool { return a.users.Check(user, pass) }

// peerKey is the part of a request's RemoteAddr failed logins are counted
// by (policy.PeerKey): the IP, an IPv6 one's /64, the whole address when
// it is no IP (a unix socket).
func peerKey(remote string) string {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return remote
	}
	return policy.PeerKey(net.TCPAddrFromAddrPort(ap))
}

// failures counts failed logins per peer: when limited, a token bucket
// each (burst N, refilling at N per period). A login attempt takes a
// token before its password is checked and a success gives it back, so
// concurrent attempts cannot overshoot the limit. A second set of
// buckets, one token a minute, says when a peer's failures are logged.
// Both are bounded to max peers.
type failures struct {
	limit *policy.PeerBuckets
	logs  *policy.PeerBuckets
}

// logEvery is how often a peer's failed logins are logged at most.
const logEvery = time.Minute

func newFailures(r plugin.Rate, maxPeers int, now func() time.Time) *failures {
	return &failures{
		limit: policy.NewPeerBuckets(policy.PeerBucketsConfig{Rate: policy.Rate{N: r.N, Per: r.Per}, MaxPeers: maxPeers, Now: now}),
		logs:  policy.NewPeerBuckets(policy.PeerBucketsConfig{Rate: policy.Rate{N: 1, Per: logEvery}, MaxPeers: maxPeers, Now: now}),
	}
}

// admit takes one of peer's tokens; when there is none it returns how
// long until there is, and whether this is the first refusal since the
// peer was last admitted.
func (f *failures) admit(peer string) (wait time.Duration, first bool) {
	wait, n := f.limit.Take(peer)
	return wait, wait > 0 && n == 1
}

// succeeded gives back the token of peer's successful login.
func (f *failures) succeeded(peer string) { f.limit.Give(peer) }

// failed counts a failed login of peer. It returns true when it is to be
// logged, with the failures since the last line (this one included).
func (f *failures) failed(peer string) (log bool, n int) {
	wait, before := f.logs.Take(peer)
	if wait > 0 {
		return false, 0
	}
	return true, before + 1
}

// len returns the peers remembered by the larger of the two sets.
func (f *failures) len() int { return max(f.limit.Len(), f.logs.Len()) }
