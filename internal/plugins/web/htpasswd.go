package web

import (
	"bufio"
	"crypto/sha1" //nolint:gosec // {SHA} htpasswd entries are SHA-1 by definition
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// htpasswd is a parsed Apache password file: user → hash. Supported
// hashes are bcrypt ($2y$, $2a$, $2b$; `htpasswd -B`) and {SHA}; MD5
// ($apr1$) and crypt(3) entries are refused with the line they are on.
type htpasswd map[string]string

// parseHtpasswd reads user:hash lines; blank lines and # comments are skipped.
func parseHtpasswd(r io.Reader) (htpasswd, error) {
	users := make(htpasswd)
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
		switch {
		case strings.HasPrefix(hash, "$2y$"), strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"):
			if _, err := bcrypt.Cost([]byte(hash)); err != nil {
				return nil, fmt.Errorf("line %d: user %q: bad bcrypt hash: %w", line, user, err)
			}
		case strings.HasPrefix(hash, "{SHA}"):
			if b, err := base64.StdEncoding.DecodeString(hash[5:]); err != nil || len(b) != sha1.Size {
				return nil, fmt.Errorf("line %d: user %q: bad {SHA} hash", line, user)
			}
		default:
			return nil, fmt.Errorf("line %d: user %q: unsupported hash (use bcrypt: htpasswd -B)", line, user)
		}
		users[user] = hash
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return users, nil
}

// verify reports whether password matches hash (one of parseHtpasswd's).
func verify(hash, password string) bool {
	if strings.HasPrefix(hash, "{SHA}") {
		sum := sha1.Sum([]byte(password)) //nolint:gosec // the format's own hash
		want, _ := base64.StdEncoding.DecodeString(hash[5:])
		return subtle.ConstantTimeCompare(sum[:], want) == 1
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}
