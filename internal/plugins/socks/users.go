package socks

import (
	"fmt"

	"github.com/twistd-go/twistd/htpasswd"
)

// maxUserName is the longest user name RFC 1929 can carry.
const maxUserName = 255

// newUsers loads the RFC 1929 accounts of a bcrypt htpasswd file
// (htpasswd -B); Reload re-reads it in place.
func newUsers(file string) (*htpasswd.File, error) {
	u, err := htpasswd.Options{MaxUser: maxUserName}.Load(file)
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	return u, nil
}
