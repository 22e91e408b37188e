package mail

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// users are the mailbox owners who may log in (POP3, SMTP AUTH): plain
// passwords from -u/users:, bcrypt hashes from a users file.
type users struct {
	plain  map[string]string
	bcrypt map[string]string
	dummy  []byte // a bcrypt hash of nothing anyone knows, for unknown names
}

// newUsers returns the users of both sources; a name in both is plain's.
func newUsers(plain, hashed map[string]string) *users {
	u := &users{plain: map[string]string{}, bcrypt: hashed}
	for k, v := range plain {
		u.plain[strings.ToLower(k)] = v
	}
	if len(hashed) > 0 {
		var r [16]byte
		_, _ = rand.Read(r[:])
		u.dummy, _ = bcrypt.GenerateFromPassword(r[:], bcrypt.DefaultCost)
	}
	return u
}

// readUsersFile reads an htpasswd file of bcrypt hashes (htpasswd -B):
// "user:$2y$..." a line, # comments and blank lines skipped.
func readUsersFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		user, hash, ok := strings.Cut(text, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("%s:%d: want user:bcrypt-hash", path, line)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("%s:%d: user %q: not a bcrypt hash (use htpasswd -B): %v", path, line, user, err)
		}
		out[strings.ToLower(user)] = hash
	}
	return out, sc.Err()
}

// has reports whether name is a user.
func (u *users) has(name string) bool {
	name = strings.ToLower(name)
	_, a := u.plain[name]
	_, b := u.bcrypt[name]
	return a || b
}

// check reports whether password is name's.
func (u *users) check(name, password string) bool {
	name = strings.ToLower(name)
	if p, ok := u.plain[name]; ok {
		return subtle.ConstantTimeCompare([]byte(p), []byte(password)) == 1
	}
	if h, ok := u.bcrypt[name]; ok {
		return bcrypt.CompareHashAndPassword([]byte(h), []byte(password)) == nil
	}
	if u.dummy != nil {
		// Spend the time a check takes, so unknown names do not show.
		_ = bcrypt.CompareHashAndPassword(u.dummy, []byte(password))
	}
	return false
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
