//go:build !linux

package reactor

import (
	"net"
	"testing"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// maxRead is the most the goroutine driver reads at once.
const maxRead = readBuffer

// epollServer is never reached: drivers holds only the goroutine reactor.
func epollServer(t *testing.T, _ net.Listener, _ protocol.Factory, _ *zap.Logger, _ *service.Stats) service.Server {
	t.Skip("the epoll reactor needs Linux")
	return nil
}

// epollListener is never reached either.
func epollListener(t *testing.T, _ service.Listener, _ protocol.Factory, _ *zap.Logger, _ *service.Stats) service.Server {
	t.Skip("the epoll reactor needs Linux")
	return nil
}
