package socks

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"
)

// users are the RFC 1929 accounts of a bcrypt htpasswd file (htpasswd -B):
// user:$2y$... lines, blank lines and # comments skipped. It is the web
// plugin's reader cut down to bcrypt, the one hash the socks docs offer.
type users struct {
	file   string
	hashes atomic.Pointer[map[string]string]
	// dummy is checked for unknown users, so they take as long as a
	// wrong password and timing tells no names.
	dummy atomic.Pointer[string]
	// bcrypts bounds the checks running at once (GOMAXPROCS-1, at least
	// 1), leaving a CPU to the relays during a burst of logins.
	bcrypts chan struct{}

	mu sync.Mutex
	ok map[[32]byte]struct{} // logins already checked, by hash of user, password and stored hash
}

// maxRemembered bounds the remembered successful logins.
const maxRemembered = 4096

func newUsers(file string) (*users, error) {
	u := &users{file: file, bcrypts: make(chan struct{}, max(runtime.GOMAXPROCS(0)-1, 1)), ok: map[[32]byte]struct{}{}}
	if err := u.load(); err != nil {
		return nil, err
	}
	return u, nil
}

// load (re-)reads the file; on error the previous accounts stay.
func (u *users) load() error {
	f, err := os.Open(u.file)
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	defer f.Close()
	hashes, err := parseHtpasswd(f)
	if err != nil {
		return fmt.Errorf("users %s: %w", u.file, err)
	}
	cost := bcrypt.MinCost
	for _, h := range hashes {
		if c, err := bcrypt.Cost([]byte(h)); err == nil && c > cost {
			cost = c
		}
	}
	d, err := bcrypt.GenerateFromPassword([]byte("twistd"), cost)
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	dummy := string(d)
	u.dummy.Store(&dummy)
	u.hashes.Store(&hashes)
	u.mu.Lock()
	u.ok = map[[32]byte]struct{}{}
	u.mu.Unlock()
	return nil
}

// parseHtpasswd reads user:hash lines, every hash bcrypt.
func parseHtpasswd(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		user, hash, ok := strings.Cut(text, ":")
		if !ok || user == "" || hash == "" {
			return nil, fmt.Errorf("line %d: want user:hash", line)
		}
		if len(user) > 255 {
			return nil, fmt.Errorf("line %d: user name longer than RFC 1929's 255 bytes", line)
		}
		if !strings.HasPrefix(hash, "$2y$") && !strings.HasPrefix(hash, "$2a$") && !strings.HasPrefix(hash, "$2b$") {
			return nil, fmt.Errorf("line %d: user %q: not a bcrypt hash (make the file with htpasswd -B)", line, user)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("line %d: user %q: bad bcrypt hash: %w", line, user, err)
		}
		out[user] = hash
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// login reports whether pass is user's password. It may take a bcrypt's
// time (tens of milliseconds): call it off the connection's callbacks.
func (u *users) login(user, pass string) bool {
	hash, known := (*u.hashes.Load())[user]
	if !known {
		u.verify(*u.dummy.Load(), pass)
		return false
	}
	key := sha256.Sum256([]byte(user + "\x00" + pass + "\x00" + hash))
	u.mu.Lock()
	_, seen := u.ok[key]
	u.mu.Unlock()
	if seen {
		return true
	}
	if !u.verify(hash, pass) {
		return false
	}
	u.mu.Lock()
	if len(u.ok) >= maxRemembered {
		clear(u.ok)
	}
	u.ok[key] = struct{}{}
	u.mu.Unlock()
	return true
}

func (u *users) verify(hash, pass string) bool {
	u.bcrypts <- struct{}{}
	defer func() { <-u.bcrypts }()
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pass)) == nil
}
