package mail

import (
	"crypto/subtle"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/twistd-go/twistd/htpasswd"
)

// users are the mailbox owners who may log in (POP3, SMTP AUTH): plain
// passwords from -u/users:, bcrypt hashes from a users file. Names are
// compared without case.
type users struct {
	plain  map[string]string
	hashed *htpasswd.File // nil: no users file
}

// newUsers returns the users of both sources; a name in both is plain's.
func newUsers(plain map[string]string, hashed *htpasswd.File) *users {
	u := &users{plain: map[string]string{}, hashed: hashed}
	for k, v := range plain {
		u.plain[strings.ToLower(k)] = v
	}
	return u
}

// readUsersFile reads an htpasswd file of bcrypt hashes (htpasswd -B):
// "user:$2y$..." a line, # comments and blank lines skipped.
func readUsersFile(path string) (*htpasswd.File, error) {
	return htpasswd.Options{FoldCase: true}.Load(path)
}

// has reports whether name is a user.
func (u *users) has(name string) bool {
	_, a := u.plain[strings.ToLower(name)]
	return a || u.hashed != nil && u.hashed.Has(name)
}

// hashedNames returns the users of the users file.
func (u *users) hashedNames() []string {
	if u.hashed == nil {
		return nil
	}
	return u.hashed.Users()
}

// check reports whether password is name's. With a users file, an
// unknown name takes as long as a wrong password.
func (u *users) check(name, password string) bool {
	if p, ok := u.plain[strings.ToLower(name)]; ok {
		return subtle.ConstantTimeCompare([]byte(p), []byte(password)) == 1
	}
	return u.hashed != nil && u.hashed.Check(name, password)
}

// guard slows down password guessing: each failure from a peer delays
// its answer, and a peer with maxFailures failures within window is
// refused until they age out.
type guard struct {
	delay       time.Duration
	maxFailures int
	window      time.Duration

	mu    sync.Mutex
	peers map[string][]time.Time
}

// maxGuardPeers bounds the failures remembered.
const maxGuardPeers = 10000

func newGuard(delay time.Duration, maxFailures int, window time.Duration) *guard {
	return &guard{delay: delay, maxFailures: maxFailures, window: window, peers: map[string][]time.Time{}}
}

func peerKey(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	if a == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// blocked reports whether peer has failed too often lately.
func (g *guard) blocked(peer net.Addr) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.recentLocked(peerKey(peer), time.Now())) >= g.maxFailures
}

func (g *guard) recentLocked(key string, now time.Time) []time.Time {
	ts := g.peers[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) > g.window {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(g.peers, key)
	} else {
		g.peers[key] = ts
	}
	return ts
}

// failed records a failure from peer and waits the delay (longer for a
// peer that keeps failing, at most ten times it).
func (g *guard) failed(peer net.Addr) {
	key := peerKey(peer)
	now := time.Now()
	g.mu.Lock()
	if len(g.peers) >= maxGuardPeers {
		for k := range g.peers {
			g.recentLocked(k, now)
		}
		if len(g.peers) >= maxGuardPeers {
			clear(g.peers) // a flood of peers: forget rather than grow
		}
	}
	ts := append(g.recentLocked(key, now), now)
	if len(ts) > g.maxFailures {
		ts = ts[len(ts)-g.maxFailures:]
	}
	g.peers[key] = ts
	n := len(ts)
	g.mu.Unlock()
	d := g.delay * time.Duration(min(n, 10))
	time.Sleep(d)
}
