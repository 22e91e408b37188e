package mail

import (
	"crypto/subtle"
	"net"
	"strings"
	"time"

	"github.com/twistd-go/twistd/htpasswd"
	"github.com/twistd-go/twistd/policy"
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
// refused until one ages out (a token bucket a peer, policy.PeerBuckets).
type guard struct {
	delay time.Duration
	fails *policy.PeerBuckets
}

// maxGuardPeers bounds the failures remembered.
const maxGuardPeers = 10000

func newGuard(delay time.Duration, maxFailures int, window time.Duration) *guard {
	return &guard{delay: delay, fails: policy.NewPeerBuckets(policy.PeerBucketsConfig{
		Rate: policy.Rate{N: float64(maxFailures), Per: window}, MaxPeers: maxGuardPeers})}
}

// blocked reports whether peer has failed too often lately.
func (g *guard) blocked(peer net.Addr) bool { return g.fails.Wait(policy.PeerKey(peer)) > 0 }

// failed records a failure from peer and waits the delay (longer for a
// peer that keeps failing, at most ten times it).
func (g *guard) failed(peer net.Addr) {
	n := max(g.fails.Spend(policy.PeerKey(peer)), 1)
	time.Sleep(g.delay * time.Duration(min(n, 10)))
}

// peerKey is a peer's IP address as text (the whole address when it has
// none), for the Received: header.
func peerKey(a net.Addr) string {
	if ip, ok := policy.IP(a); ok {
		return ip.String()
	}
	if a == nil {
		return ""
	}
	return a.String()
}
