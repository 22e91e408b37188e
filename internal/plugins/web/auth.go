package web

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/twistd-go/twistd/htpasswd"
	"github.com/twistd-go/twistd/plugin"
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
// by: the IP, an IPv6 one's /64 (a host picks addresses from a whole
// /64), the whole address when it is no IP (a unix socket).
func peerKey(remote string) string {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return remote
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.WithZone("").Prefix(64)
		return p.String()
	}
	return ip.String()
}

// failures counts failed logins per peer: a token bucket each when
// limited (burst N, refilling at N per period; kept as the time the
// bucket is full again, GCRA's theoretical arrival time), and when the
// peer was last logged. A login attempt takes a token before its
// password is checked and a success gives it back, so concurrent
// attempts cannot overshoot the limit. At most max peers are remembered;
// past that, those with a full bucket and nothing to log go first, then
// the oldest, down to three quarters of max.
type failures struct {
	interval time.Duration // between tokens; zero: counted, not limited
	burst    time.Duration // (burst - 1) intervals: how far ahead a full bucket may run
	now      func() time.Time
	epoch    time.Time
	max      int

	mu    sync.Mutex
	peers map[string]*peerFailures
}

// peerFailures is one peer's record, its times since failures.epoch.
type peerFailures struct {
	full     time.Duration // when the bucket is whole again
	seen     time.Duration // the last attempt or failure: eviction order
	logged   time.Duration // the last log line about the peer
	unlogged int           // failures since it
	limited  bool          // refused since its last admitted attempt
}

// logEvery is how often a peer's failed logins are logged at most.
const logEvery = time.Minute

func newFailures(r plugin.Rate, maxPeers int, now func() time.Time) *failures {
	f := &failures{now: now, epoch: now(), max: maxPeers, peers: make(map[string]*peerFailures)}
	if r.N > 0 && r.Per > 0 {
		f.interval = time.Duration(float64(r.Per) / r.N)
		f.burst = time.Duration(max(int64(r.N), 1)-1) * f.interval
	}
	return f
}

// record returns peer's record, making it (and room for it) if needed.
func (f *failures) record(peer string, now time.Duration) *peerFailures {
	p := f.peers[peer]
	if p == nil {
		if len(f.peers) >= f.max {
			f.forget(now)
		}
		p = &peerFailures{full: now, logged: now - logEvery}
		f.peers[peer] = p
	}
	p.seen = now
	return p
}

// admit takes one of peer's tokens; when there is none it returns how
// long until there is, and whether this is the first refusal since the
// peer was last admitted.
func (f *failures) admit(peer string) (wait time.Duration, first bool) {
	if f.interval == 0 {
		return 0, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now().Sub(f.epoch)
	p := f.record(peer, now)
	if wait := p.full - f.burst - now; wait > 0 {
		first, p.limited = !p.limited, true
		return wait, first
	}
	p.full = max(p.full, now) + f.interval
	p.limited = false
	return 0, false
}

// succeeded gives back the token of peer's successful login.
func (f *failures) succeeded(peer string) {
	if f.interval == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.peers[peer]
	if p == nil {
		return
	}
	now := f.now().Sub(f.epoch)
	p.full -= f.interval
	if f.idle(p, now) {
		delete(f.peers, peer)
	}
}

// failed counts a failed login of peer. It returns true when it is to be
// logged, with the failures since the last line (this one included).
func (f *failures) failed(peer string) (log bool, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now().Sub(f.epoch)
	p := f.record(peer, now)
	p.unlogged++
	if now-p.logged < logEvery {
		return false, 0
	}
	n, p.unlogged, p.logged = p.unlogged, 0, now
	return true, n
}

// idle reports whether forgetting p loses nothing: its bucket is full and
// its next failure would be logged anyway.
func (f *failures) idle(p *peerFailures, now time.Duration) bool {
	return p.full <= now && now-p.logged >= logEvery
}

// forget makes room in a full table.
func (f *failures) forget(now time.Duration) {
	for k, p := range f.peers {
		if f.idle(p, now) {
			delete(f.peers, k)
		}
	}
	keep := f.max * 3 / 4
	if len(f.peers) <= keep {
		return
	}
	seen := make([]time.Duration, 0, len(f.peers))
	for _, p := range f.peers {
		seen = append(seen, p.seen)
	}
	slices.Sort(seen)
	cutoff := seen[len(seen)-keep-1]
	for k, p := range f.peers {
		if p.seen <= cutoff {
			delete(f.peers, k)
		}
	}
}

// len returns the peers remembered.
func (f *failures) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.peers)
}
