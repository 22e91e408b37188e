//go:build !unix

package reactor

import (
	"errors"
	"os"
)

// SendFile reports errors.ErrUnsupported here: the caller copies.
func (c *conn) SendFile(*os.File, int64, int64) (int64, error) { return 0, errors.ErrUnsupported }

// awaitWritable is never needed here: SendFile sends nothing.
func (c *conn) awaitWritable() error { return nil }
