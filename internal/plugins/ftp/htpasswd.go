package ftp

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// maxPasswordFile bounds the password file read into memory.
const maxPasswordFile = 16 << 20

// passwords are the users of a bcrypt htpasswd file (user:$2y$...).
type passwords map[string][]byte

// loadPasswords reads an htpasswd file whose hashes are all bcrypt (what
// `htpasswd -B` writes); any other line is an error naming file:line.
func loadPasswords(file string) (passwords, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxPasswordFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", file, maxPasswordFile)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return parsePasswords(file, data)
}

// parsePasswords parses htpasswd text; name is the file in messages.
func parsePasswords(name string, data []byte) (passwords, error) {
	users := passwords{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), 64<<10)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		user, hash, ok := strings.Cut(text, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("%s:%d: want user:bcrypt-hash", name, line)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("%s:%d: user %q: not a bcrypt hash (make one with htpasswd -B)", name, line, user)
		}
		if _, dup := users[user]; dup {
			return nil, fmt.Errorf("%s:%d: user %q given twice", name, line, user)
		}
		users[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	return users, nil
}

// dummyHash is compared against when the user is unknown, so that a
// missing user costs as long as a wrong password. Made at the first
// unknown user, not at start: a bcrypt hash costs tens of milliseconds,
// which every start of the binary paid.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("x"), bcrypt.DefaultCost)
	return h
})

// check reports whether pass is user's password.
func (p passwords) check(user, pass string) bool {
	hash, ok := p[user]
	if !ok {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(pass))
		return false
	}
	return bcrypt.CompareHashAndPassword(hash, []byte(pass)) == nil
}
