// Package htpasswd reads Apache password files (user:hash lines, as
// `htpasswd -B` writes them) and checks logins against them in constant
// time for unknown users.
//
// A File is safe for concurrent use and reloadable: Reload re-reads it in
// place and keeps the previous users when the new text is bad, so a
// service's reload never locks everyone out. Check spends a bcrypt's time
// on every attempt (an unknown user is checked against a dummy hash of the
// file's highest cost, made at the first unknown user, not at start),
// bounds the bcrypt checks running at once to leave a CPU to other work,
// and remembers a bounded number of successful logins so a client that
// logs in again and again (HTTP basic auth sends the password with every
// request) does not pay a bcrypt each time.
package htpasswd

import (
	"bufio"
	"crypto/sha1" //nolint:gosec // {SHA} entries are SHA-1 by definition
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"
)

// Bounds against a hostile or mistaken file.
const (
	// MaxFileSize is the largest password file read, in bytes.
	MaxFileSize = 16 << 20
	// MaxLine is the longest line read, in bytes.
	MaxLine = 64 << 10
	// maxRemembered bounds the successful logins remembered.
	maxRemembered = 4096
)

// Options say which entries a file may hold. The zero value accepts
// bcrypt hashes only ($2y$, $2a$, $2b$: htpasswd -B), with user names
// compared exactly.
type Options struct {
	// SHA1 also accepts {SHA} entries (htpasswd -s), which browsers'
	// older tooling writes; they are unsalted, so bcrypt is better.
	SHA1 bool
	// FoldCase compares user names without regard to case (mail
	// addresses' local parts): names are lowercased on load and on Check,
	// and two that differ only in case are the same user.
	FoldCase bool
	// MaxUser is the longest user name accepted, in bytes (SOCKS 5 sends
	// at most 255); zero is no limit beyond the line's.
	MaxUser int
}

// File is a loaded password file. Use Load or Options.Load to make one.
type File struct {
	path string
	opts Options
	cur  atomic.Pointer[table]
	// bcrypts bounds the bcrypt checks running at once (GOMAXPROCS-1, at
	// least 1), so a burst of failed logins leaves a CPU to other work.
	bcrypts chan struct{}

	mu sync.Mutex
	ok map[[32]byte]struct{} // successful logins, by hash of user, password and stored hash
}

// table is one reading of the file.
type table struct {
	users map[string]string
	// dummy is the hash unknown users are checked against: bcrypt of the
	// file's highest cost, or {SHA} when it holds no bcrypt hash. Made at
	// the first unknown user: a bcrypt hash costs tens of milliseconds,
	// which every start of the binary would pay.
	dummy func() string
}

// Load reads the bcrypt password file at path (Options{}.Load).
func Load(path string) (*File, error) { return Options{}.Load(path) }

// Load reads the password file at path. Errors name the file and the
// line: "users:3: user \"bob\": not a bcrypt hash (make one with htpasswd -B)".
func (o Options) Load(path string) (*File, error) {
	f := o.newFile(path)
	if err := f.Reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// Parse reads a password file from r; name is the file in messages. A
// File made by Parse has no file to Reload from.
func (o Options) Parse(r io.Reader, name string) (*File, error) {
	t, err := o.parse(r, name)
	if err != nil {
		return nil, err
	}
	f := o.newFile("")
	f.cur.Store(t)
	return f, nil
}

func (o Options) newFile(path string) *File {
	return &File{path: path, opts: o, bcrypts: make(chan struct{}, max(runtime.GOMAXPROCS(0)-1, 1)),
		ok: map[[32]byte]struct{}{}}
}

// Path returns the file Load read ("" for Parse's).
func (f *File) Path() string { return f.path }

// Reload re-reads the file in place. On error the previous users stay
// and the error says why.
func (f *File) Reload() error {
	if f.path == "" {
		return errors.New("htpasswd: no file to reload")
	}
	fh, err := os.Open(f.path)
	if err != nil {
		return err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return err
	}
	if fi.Size() > MaxFileSize {
		return fmt.Errorf("%s: larger than %d bytes", f.path, MaxFileSize)
	}
	t, err := f.opts.parse(io.LimitReader(fh, MaxFileSize+1), f.path)
	if err != nil {
		return err
	}
	f.cur.Store(t)
	f.mu.Lock()
	f.ok = map[[32]byte]struct{}{}
	f.mu.Unlock()
	return nil
}

// isBcrypt reports whether hash has one of bcrypt's prefixes.
func isBcrypt(hash string) bool {
	return strings.HasPrefix(hash, "$2y$") || strings.HasPrefix(hash, "$2a$") || strings.HasPrefix(hash, "$2b$")
}

func (o Options) parse(r io.Reader, name string) (*table, error) {
	users := map[string]string{}
	cost := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLine)
	line := 0
	read := 0
	for sc.Scan() {
		line++
		read += len(sc.Bytes()) + 1
		if read > MaxFileSize+1 {
			return nil, fmt.Errorf("%s: larger than %d bytes", name, MaxFileSize)
		}
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		user, hash, ok := strings.Cut(text, ":")
		if !ok || user == "" || hash == "" {
			return nil, fmt.Errorf("%s:%d: want user:bcrypt-hash", name, line)
		}
		if o.MaxUser > 0 && len(user) > o.MaxUser {
			return nil, fmt.Errorf("%s:%d: user name longer than %d bytes", name, line, o.MaxUser)
		}
		switch {
		case isBcrypt(hash):
			c, err := bcrypt.Cost([]byte(hash))
			if err != nil {
				return nil, fmt.Errorf("%s:%d: user %q: not a bcrypt hash: %w", name, line, user, err)
			}
			cost = max(cost, c)
		case o.SHA1 && strings.HasPrefix(hash, "{SHA}"):
			if b, err := base64.StdEncoding.DecodeString(hash[5:]); err != nil || len(b) != sha1.Size {
				return nil, fmt.Errorf("%s:%d: user %q: bad {SHA} hash", name, line, user)
			}
		case o.SHA1:
			return nil, fmt.Errorf("%s:%d: user %q: not a bcrypt or {SHA} hash (make one with htpasswd -B)", name, line, user)
		default:
			return nil, fmt.Errorf("%s:%d: user %q: not a bcrypt hash (make one with htpasswd -B)", name, line, user)
		}
		if o.FoldCase {
			user = strings.ToLower(user)
		}
		if _, dup := users[user]; dup {
			return nil, fmt.Errorf("%s:%d: user %q given twice", name, line, user)
		}
		users[user] = hash
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	t := &table{users: users}
	if cost == 0 {
		t.dummy = func() string { return "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=" }
	} else {
		t.dummy = sync.OnceValue(func() string {
			h, _ := bcrypt.GenerateFromPassword([]byte("twistd: no such user"), cost)
			return string(h)
		})
	}
	return t, nil
}

func (f *File) key(user string) string {
	if f.opts.FoldCase {
		return strings.ToLower(user)
	}
	return user
}

// Has reports whether user is in the file. Check costs the same either
// way; Has is for messages and for choosing among several files.
func (f *File) Has(user string) bool {
	_, ok := f.cur.Load().users[f.key(user)]
	return ok
}

// Users returns the user names, sorted (lowercased with FoldCase).
func (f *File) Users() []string {
	return slices.Sorted(maps.Keys(f.cur.Load().users))
}

// Len returns the number of users.
func (f *File) Len() int { return len(f.cur.Load().users) }

// Check reports whether pass is user's password. An unknown user takes
// as long as a wrong password, so timing tells no names. It may take a
// bcrypt's time (tens of milliseconds) and waits while the bound of
// bcrypt checks at once is reached: call it off an event loop's
// callbacks.
func (f *File) Check(user, pass string) bool {
	t := f.cur.Load()
	user = f.key(user)
	hash, known := t.users[user]
	if !known {
		f.verify(t.dummy(), pass)
		return false
	}
	key := sha256.Sum256([]byte(user + "\x00" + pass + "\x00" + hash))
	f.mu.Lock()
	_, seen := f.ok[key]
	f.mu.Unlock()
	if seen {
		return true
	}
	if !f.verify(hash, pass) {
		return false
	}
	f.mu.Lock()
	if len(f.ok) >= maxRemembered {
		clear(f.ok)
	}
	f.ok[key] = struct{}{}
	f.mu.Unlock()
	return true
}

// verify checks pass against hash, bcrypt within f.bcrypts.
func (f *File) verify(hash, pass string) bool {
	if strings.HasPrefix(hash, "{SHA}") {
		sum := sha1.Sum([]byte(pass)) //nolint:gosec // the format's own hash
		want, _ := base64.StdEncoding.DecodeString(hash[5:])
		return subtle.ConstantTimeCompare(sum[:], want) == 1
	}
	f.bcrypts <- struct{}{}
	defer func() { <-f.bcrypts }()
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pass)) == nil
}
