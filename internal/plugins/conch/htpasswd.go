package conch

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// maxPasswordFile bounds what is read of a password file.
const maxPasswordFile = 4 << 20

// parseHtpasswd reads an htpasswd file of bcrypt hashes (user:$2y$...,
// as htpasswd -B writes them): blank lines and # comments are skipped;
// any other hash, or a line without a colon, is an error naming the
// line, so a file that would lock everyone out fails loudly.
func parseHtpasswd(r io.Reader, name string) (map[string]string, error) {
	users := map[string]string{}
	sc := bufio.NewScanner(io.LimitReader(r, maxPasswordFile))
	sc.Buffer(make([]byte, 0, 1024), 64<<10)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if t := strings.TrimSpace(text); t == "" || t[0] == '#' {
			continue
		}
		user, hash, ok := strings.Cut(text, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("%s:%d: want user:bcrypt-hash", name, line)
		}
		if !strings.HasPrefix(hash, "$2a$") && !strings.HasPrefix(hash, "$2b$") && !strings.HasPrefix(hash, "$2y$") {
			return nil, fmt.Errorf("%s:%d: user %q: only bcrypt hashes are accepted (htpasswd -B)", name, line, user)
		}
		if _, dup := users[user]; dup {
			return nil, fmt.Errorf("%s:%d: user %q listed twice", name, line, user)
		}
		users[user] = hash
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	return users, nil
}
