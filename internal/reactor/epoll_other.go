//go:build !linux

package reactor

import (
	"context"
	"errors"
	"net"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// Without epoll there are no event loops: Reactors offers only the
// goroutine reactor, which drives every connection.

// epollState is empty: there are no event loops to keep.
type epollState struct{}

var errNoEpoll = errors.New("the epoll reactor needs Linux")

// serveEvented always fails: the caller serves with goroutines.
func (r *Reactor) serveEvented(service.Listener, protocol.Factory, *zap.Logger, *service.Stats, func(error)) (eventServer, error) {
	return nil, errNoEpoll
}

// adopt always fails: outgoing connections get goroutines (Dial).
func (r *Reactor) adopt(net.Conn, protocol.Protocol, dialHooks) (protocol.Transport, error) {
	return nil, errNoEpoll
}

// closeDialedLoops has no loops' connections to close.
func (r *Reactor) closeDialedLoops(context.Context) {}

// Alive reports whether every event loop answers within ctx: with no
// loops, always.
func (r *Reactor) Alive(context.Context) bool { return true }

// stopLoops has no loops to stop: it only resets their (empty) state.
func (r *Reactor) stopLoops() { r.epoll = epollState{} }
