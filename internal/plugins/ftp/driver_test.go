package ftp

import (
	"testing"

	ftpserver "github.com/fclairamb/ftpserverlib"
)

// A session that comes while the service stops (a reload's overlap) is
// refused with words a person can act on; ftpserverlib sends them after
// its 500, which was all the client saw before.
func TestClientConnectedWhileStoppingSaysWhy(t *testing.T) {
	d := &driver{sessions: map[ftpserver.ClientContext]*session{}}
	d.closeIdle()
	msg, err := d.ClientConnected(nil)
	if err == nil || msg != "Service stopping, try again" {
		t.Fatalf("ClientConnected while stopping: %q, %v", msg, err)
	}
}
