// Package service defines the Service lifecycle, the Env the reactor
// hands a service, and Multi, the ordered tree of running services that
// starts its children in order, stops them in reverse and rolls back a
// failed start (Twisted's IService and MultiService).
package service

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"syscall"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/metrics"
	"github.com/twistd-go/twistd/policy"
	"github.com/twistd-go/twistd/protocol"
)

// Service is one part of an application: an echo server, a web site.
//
// Start begins serving on the sockets in env and returns as soon as the
// service is serving; it does not block for the service's life. If it
// returns an error, nothing of the service is left running. Start is
// called at most once.
//
// Stop stops accepting new work, lets in-flight work finish until ctx is
// done, then force-closes whatever is left and returns. It never closes the
// sockets it was given (the reactor owns them, so a replacement can take
// them over), is called only after a successful Start, and returns nil
// after a clean drain and ctx.Err() after a forced one.
//
// A service that can no longer serve once started — a socket died under
// it, a loop of its met an error it cannot get past — says so with
// Env.Fail rather than only logging it: a dead service is never silently
// "running". The reactor then reports it failed (/status, /readyz, the
// twistd_service_* metrics, one error line) and, by the service's
// on_failure, stops the process or restarts the service: Stop on this
// instance, then Start on a fresh one made from the same configuration,
// on freshly bound sockets where the old ones died. The reactor's own
// accept and read loops (ServeStream, ServePacket) report their sockets'
// failures themselves.
type Service interface {
	Start(ctx context.Context, env *Env) error
	Stop(ctx context.Context) error
}

// Env is what the reactor hands a service when it starts it.
type Env struct {
	// Name is the service's name, Type its plugin's name.
	Name, Type string
	// Logger is named after the service.
	Logger *zap.Logger
	// Listeners are the service's bound sockets, in the order of its listen:.
	Listeners []Listener
	// Runner drives stream protocols and datagram protocols on those sockets.
	Runner Runner
	// Stats counts the service's traffic.
	Stats *Stats
	// Metrics is the process's registry, for what Stats does not count
	// (HTTP requests by code, DNS queries by type and rcode): metrics made
	// there are served on the admin endpoint's /metrics. Never nil.
	Metrics *metrics.Registry
	// CPUs is how many CPUs the process was given: how many readers keep
	// a datagram socket busy without crowding one another.
	CPUs int
	// OnFail is the reactor's side of Fail; services call Fail.
	OnFail func(err error)
	// Bulk, when not nil, tells the process that a bulk transfer has
	// begun (an SFTP session, whose every packet the SSH library copies
	// afresh) and returns the function that tells it the transfer ended.
	// While any runs, the process may trade memory for CPU time: its
	// collector runs less often. End may be called more than once; the
	// first call counts. Nil in an Env made by a test; see StartBulk.
	Bulk func() (end func())
	// HelperEnv is what to add to the environment of a process of the
	// program's own executable that a service starts to serve one
	// client's stream (conch's SFTP child): the runtime settings such a
	// process runs best with, as GOMAXPROCS and GOGC variables. Nil in an
	// Env made by a test.
	HelperEnv []string
}

// StartBulk calls e.Bulk and returns its end, or a function that does
// nothing when e has no Bulk.
func (e *Env) StartBulk() (end func()) {
	if e == nil || e.Bulk == nil {
		return func() {}
	}
	return e.Bulk()
}

// Fail reports that the service can no longer serve (see Service). It is
// safe from any goroutine and any number of times: the first report of a
// started instance counts, later ones are ignored. Wrap a socket's
// failure in a *SocketError so the endpoint is named and bound anew on a
// restart. With no OnFail (an Env made by a test) the failure is logged.
func (e *Env) Fail(err error) {
	if e.OnFail != nil {
		e.OnFail(err)
		return
	}
	if e.Logger != nil {
		e.Logger.Error("service failed", zap.Error(err))
	}
}

// SocketError is the failure of one of a service's sockets, for Env.Fail:
// it names the endpoint, and tells the reactor that socket is dead, so a
// restart binds the endpoint again instead of reusing it.
type SocketError struct {
	Endpoint endpoint.Endpoint
	// Addr is the socket's real address, when known.
	Addr net.Addr
	Err  error
}

func (e *SocketError) Error() string {
	if e.Addr != nil {
		return fmt.Sprintf("%s (%s): %v", e.Endpoint, e.Addr, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Endpoint, e.Err)
}

func (e *SocketError) Unwrap() error { return e.Err }

// Permanent reports whether err, from accepting on or reading a bound
// socket, means that socket will never work again — it was closed or shut
// down under its user (EBADF, EINVAL, ENOTSOCK, EOPNOTSUPP), as opposed
// to a passing condition such as running out of descriptors (EMFILE),
// which is worth a pause and a retry. net.ErrClosed is not permanent: it
// is the socket's own user closing it.
func Permanent(err error) bool {
	if err == nil || errors.Is(err, net.ErrClosed) {
		return false
	}
	for _, e := range []syscall.Errno{syscall.EBADF, syscall.EINVAL, syscall.ENOTSOCK, syscall.EOPNOTSUPP} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Reloader is implemented by services that re-read their data files
// (zones, hosts files, htpasswd, certificates) in place when the
// application file is reloaded and their own configuration is unchanged.
// On error the service keeps serving its previous data.
type Reloader interface {
	Reload(ctx context.Context) error
}

// Successor is implemented by services that take over part of the
// instance they replace on a reload (the same name and type, a changed
// configuration): Succeed is called with that instance before Start. A
// procmon service keeps the processes whose settings did not change; the
// predecessor hands them over when it is stopped, and keeps them if the
// reload fails and the successor is stopped first.
type Successor interface {
	Succeed(predecessor Service)
}

// StatusReporter is implemented by services with more to show in /status
// than connections and bytes: Status returns a JSON-encodable value,
// shown under the service's "details" (procmon: each process's pid,
// state and restarts).
type StatusReporter interface {
	Status() any
}

// Reopener is implemented by services with log files of their own (access
// logs, traffic logs): Reopen reopens them on SIGUSR1, for logrotate.
type Reopener interface {
	Reopen() error
}

// Listener is one bound endpoint as a service receives it. Exactly one of
// Stream and Packet is set. Closing them only releases the service's use:
// the socket itself belongs to the reactor.
//
// A stream listener is served with Runner.ServeStream, which reads the
// PROXY header (haproxy: endpoints, ProxyProtocol) and does the TLS
// handshake (ssl: endpoints, TLS: certificate loaded, the ALPN protocols
// the service asks for with WithALPN) before the factory sees a
// connection.
type Listener struct {
	Endpoint endpoint.Endpoint
	Stream   net.Listener
	Packet   net.PacketConn
	TLS      *tls.Config
	// ProxyProtocol (haproxy: endpoints) means every connection starts
	// with a PROXY header naming the real client.
	ProxyProtocol bool
	// Access is the service's allow:/deny: (nil admits every peer). The
	// reactor enforces it: ServeStream at accept, and Packet, when set, is
	// already a socket whose ReadFrom drops refused sources' datagrams.
	Access *policy.Access
}

// WithALPN returns l offering protos by ALPN on its TLS handshakes, most
// preferred first (h2 and http/1.1 for a web server, dot for DNS over
// TLS): a client that offers only others is refused, as RFC 7301 asks.
// Without TLS, l is returned as it is.
func (l Listener) WithALPN(protos ...string) Listener {
	if l.TLS != nil {
		l.TLS = l.TLS.Clone()
		l.TLS.NextProtos = protos
	}
	return l
}

// Runner runs protocols on bound sockets; the reactor implements it.
type Runner interface {
	// ServeStream accepts connections on l.Stream and runs one Protocol
	// from f on each, after the PROXY header and the TLS handshake their
	// endpoint asks for. The reactor picks the driver (event loop or
	// goroutines); services never do.
	ServeStream(l Listener, f protocol.Factory) Server
	// ServePacket reads datagrams from l.Packet and hands them to p.
	ServePacket(l Listener, p protocol.DatagramProtocol) Server
	// Dial connects to ep in the background and returns at once
	// (Twisted's connectTCP, connectSSL and connectUNIX). Once the
	// connection is made — for ssl, the TLS handshake done and the
	// server's certificate verified for ep.Host — f builds its protocol,
	// and the reactor drives it exactly like an accepted connection: the
	// same transports, event loops and back-pressure. A protocol.Factory
	// that is also a protocol.ClientFactory hears how the attempt and the
	// connection end; the failures of any other are logged.
	//
	// ctx and ep's timeout bound the attempt only, not the connection;
	// cancelling ctx gives up a pending attempt. To connect one Protocol,
	// pass a protocol.FactoryFunc that returns it.
	Dial(ctx context.Context, ep endpoint.Client, f protocol.Factory) Connector
}

// Connector is one Runner.Dial: the attempt and, once made, the
// connection (Twisted's IConnector). Its methods are safe from any
// goroutine and may be called any number of times.
type Connector interface {
	// Disconnect gives up the attempt if it is still pending (the
	// factory's ClientConnectionFailed is called with context.Canceled),
	// or closes the connection once what is queued is sent.
	Disconnect()
	// Abort is Disconnect dropping whatever is queued.
	Abort()
}

// Server is one running accept or read loop.
type Server interface {
	// Shutdown stops accepting, waits for open connections to finish until
	// ctx is done, then closes them. It returns ctx.Err() when it had to force.
	Shutdown(ctx context.Context) error
}
