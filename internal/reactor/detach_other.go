//go:build !unix

package reactor

import (
	"errors"
	"os"
	"syscall"
)

var (
	errDetachTLS    = errors.New("detach: a TLS connection's state lives in this process")
	errDetachRead   = errors.New("detach: bytes past the PROXY header were already read")
	errDetachQueued = errors.New("detach: writes are queued")
	errDetachClosed = errors.New("detach: connection closed")
)

func dupConn(syscall.Conn, string) (*os.File, error) {
	return nil, errors.New("detach: not supported on this system")
}
