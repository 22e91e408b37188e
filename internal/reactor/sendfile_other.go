//go:build !unix

package reactor

import (
	"errors"
	"net"
	"os"
	"syscall"
)

// rawConnOf is nil here: every write goes through the writer goroutine.
func rawConnOf(net.Conn) syscall.RawConn { return nil }

// writeNow is never called here (c.raw is nil).
func (c *conn) writeNow([][]byte) (int, error) { return 0, errors.ErrUnsupported }

// SendFile reports errors.ErrUnsupported here: the caller copies.
func (c *conn) SendFile(*os.File, int64, int64) (int64, error) { return 0, errors.ErrUnsupported }

// awaitWritable is never needed here: SendFile sends nothing.
func (c *conn) awaitWritable() error { return nil }
