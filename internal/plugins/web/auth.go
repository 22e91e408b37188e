package web

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"
)

// basicAuth checks HTTP basic credentials on protected path prefixes.
// Successful checks are remembered (bcrypt is slow on purpose), keyed by a
// hash of user, password and stored hash, so a changed file invalidates them.
type basicAuth struct {
	file      string
	challenge []string // WWW-Authenticate value
	paths     []string
	users     atomic.Pointer[htpasswd]
	// dummy is a hash to check unknown users against, of the highest
	// cost in the file, so they take as long as a wrong password.
	dummy atomic.Pointer[string]
	// bcrypts bounds the bcrypt checks running at once (GOMAXPROCS), so
	// a burst of failed logins does not take every CPU from other
	// requests.
	bcrypts chan struct{}

	mu sync.Mutex
	ok map[[32]byte]struct{}
}

// maxRemembered bounds the remembered successful logins.
const maxRemembered = 4096

func newBasicAuth(cfg *BasicAuth) (*basicAuth, error) {
	realm := cfg.Realm
	if realm == "" {
		realm = "restricted"
	}
	a := &basicAuth{file: string(cfg.Htpasswd), paths: cfg.Paths, ok: make(map[[32]byte]struct{}),
		challenge: []string{`Basic realm="` + realm + `", charset="UTF-8"`},
		bcrypts:   make(chan struct{}, runtime.GOMAXPROCS(0))}
	if err := a.load(); err != nil {
		return nil, err
	}
	return a, nil
}

// dummyFor returns a hash like the slowest of users': bcrypt of their
// highest cost, or {SHA} when none is bcrypt.
func dummyFor(users htpasswd) (string, error) {
	cost := 0
	for _, h := range users {
		if c, err := bcrypt.Cost([]byte(h)); err == nil && c > cost {
			cost = c
		}
	}
	if cost == 0 {
		return "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", nil
	}
	h, err := bcrypt.GenerateFromPassword([]byte("twistd"), cost)
	if err != nil {
		return "", fmt.Errorf("basic_auth: %w", err)
	}
	return string(h), nil
}

// verify checks password against hash, bcrypt within a.bcrypts.
func (a *basicAuth) verify(hash, password string) bool {
	if !strings.HasPrefix(hash, "{SHA}") {
		a.bcrypts <- struct{}{}
		defer func() { <-a.bcrypts }()
	}
	return verify(hash, password)
}

// load (re-)reads the htpasswd file; on error the previous users stay.
func (a *basicAuth) load() error {
	f, err := os.Open(a.file)
	if err != nil {
		return fmt.Errorf("htpasswd: %w", err)
	}
	defer f.Close()
	users, err := parseHtpasswd(f)
	if err != nil {
		return fmt.Errorf("htpasswd %s: %w", a.file, err)
	}
	dummy, err := dummyFor(users)
	if err != nil {
		return err
	}
	a.dummy.Store(&dummy)
	a.users.Store(&users)
	a.mu.Lock()
	a.ok = make(map[[32]byte]struct{})
	a.mu.Unlock()
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

// check returns the authenticated user, or ok false.
func (a *basicAuth) check(r *http.Request) (user string, ok bool) {
	user, pass, has := r.BasicAuth()
	if !has {
		return "", false
	}
	users := *a.users.Load()
	hash, known := users[user]
	if !known {
		// Spend the time a real check would, so timing tells no names.
		a.verify(*a.dummy.Load(), pass)
		return "", false
	}
	key := sha256.Sum256([]byte(user + "\x00" + pass + "\x00" + hash))
	a.mu.Lock()
	_, seen := a.ok[key]
	a.mu.Unlock()
	if seen {
		return user, true
	}
	if !a.verify(hash, pass) {
		return "", false
	}
	a.mu.Lock()
	if len(a.ok) >= maxRemembered {
		clear(a.ok)
	}
	a.ok[key] = struct{}{}
	a.mu.Unlock()
	return user, true
}
