package reactor

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/twistd-go/twistd/protocol"
)

// moreSender writes a head with WriteMore, then the file at path (when
// set) or nothing but a Push. held records the bytes the kernel had not
// sent (SIOCOUTQNSD) after the WriteMore and after the Push, on the event
// loop's transport.
type moreSender struct {
	protocol.Base
	path string
	held chan [2]int
}

// unsent is what the socket under t holds back, -1 when t is not the
// event loop's transport.
func unsent(t protocol.Transport) int {
	c, ok := t.(*econn)
	if !ok {
		return -1
	}
	n, err := unix.IoctlGetInt(c.fd, unix.SIOCOUTQNSD)
	if err != nil {
		return -1
	}
	return n
}

func (m *moreSender) ConnectionMade(t protocol.Transport) {
	mw, ok := t.(protocol.MoreWriter)
	if !ok {
		t.Write([]byte("head:no MoreWriter"))
		return
	}
	mw.WriteMore([]byte("head:"))
	if m.path == "" {
		before := unsent(t)
		mw.Push()
		m.held <- [2]int{before, unsent(t)}
		return
	}
	f, err := os.Open(m.path)
	if err == nil {
		_, err = t.(protocol.FileSender).SendFile(f, 0, 8)
		f.Close()
	}
	if err != nil {
		t.Write([]byte(err.Error()))
	}
	t.LoseConnection()
}

// The event loop's transport writes a head with MSG_MORE that the file's
// bytes then carry, and Push sends a head nothing followed (the kernel
// held all five bytes before it, none after); the goroutine reactor's
// does not offer it (its callers write plainly).
func TestWriteMore(t *testing.T) {
	bothDrivers(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "body")
		if err := os.WriteFile(path, []byte("the body"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			path string
			want string
		}{{path, "head:the body"}, {"", "head:"}} {
			held := make(chan [2]int, 1)
			_, addr, _, _ := serveStream(t, protocol.FactoryFunc(func(net.Addr) protocol.Protocol {
				return &moreSender{path: tc.path, held: held}
			}))
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			want := tc.want
			if t.Name() == "TestWriteMore/"+Goroutines {
				want = "head:no MoreWriter"
			}
			got := make([]byte, len(want))
			if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
				t.Fatalf("got %q (%v), want %q", got, err, want)
			}
			c.Close()
			if tc.path == "" && want == "head:" {
				if h := <-held; h != [2]int{5, 0} {
					t.Fatalf("unsent bytes after WriteMore and after Push: %v, want [5 0]", h)
				}
			}
		}
	})
}
