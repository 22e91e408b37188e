// Package protocol defines Twisted's Factory, Protocol and Transport as small
// Go interfaces, and helpers for writing stream and datagram protocols.
//
// A Protocol is driven by the reactor: it receives ConnectionMade, then
// DataReceived for every chunk read, then ConnectionLost exactly once. The
// calls for one connection never overlap, nor do they with the timers it
// sets with Transport.CallLater or a LoopingCall, so a protocol's own
// state needs no lock. A Protocol must not block in any of them; it writes
// through its Transport, which buffers and never blocks.
//
// Twisted's twisted.protocols.basic is here too: LineReceiver (with its
// raw mode), NetstringReceiver and the 8, 16 and 32-bit length-prefixed
// Int8Receiver, Int16Receiver and Int32Receiver, each a Framer that
// splits a stream however it is chunked (Feed) and frames what is sent
// (Append); LineProtocol and StringProtocol put them in a Protocol to
// embed, with SendLine and SendString. Package prototest tests protocols
// without a socket, on a simulated clock.
package protocol

import (
	"crypto/tls"
	"net"
	"os"
	"time"
)

// Transport is a protocol's handle on its connection. Every method is safe
// to call from the protocol's callbacks and from other goroutines, and none
// of them blocks.
type Transport interface {
	// Write queues p (copied) for sending. Writing past the transport's high
	// water mark still queues the data, but the transport pauses reading and
	// stops calling a PullProducer until the peer has caught up, so a peer
	// that never reads cannot make memory grow without bound. A transport
	// with a registered Producer pauses that producer instead of its own
	// reading: its writes come from there.
	Write(p []byte)
	// WriteMany queues several buffers at once, like Twisted's writeSequence.
	WriteMany(bufs ...[]byte)
	// LoseConnection closes the connection once everything queued is sent.
	LoseConnection()
	// Abort closes the connection at once, dropping anything queued.
	Abort()
	// CloseWrite half-closes the connection (shutdown SHUT_WR) once
	// everything queued is sent; reading goes on.
	CloseWrite()
	// PauseReading stops DataReceived calls, and ResumeProducing calls to
	// a PullProducer, until ResumeReading.
	PauseReading()
	// ResumeReading undoes PauseReading.
	ResumeReading()
	// RegisterProducer makes p pause when this transport's write buffer
	// is full and resume once it has drained: back-pressure from one
	// connection onto whatever feeds it (Twisted's registerProducer with a
	// streaming producer). A port forwarder registers each side's
	// ReadingProducer with the other. nil unregisters.
	RegisterProducer(p Producer)
	// PeerAddr is the remote address; HostAddr the local one.
	PeerAddr() net.Addr
	HostAddr() net.Addr
	// CallLater runs f once, d from now (Twisted's callLater), serialised
	// with the protocol's callbacks: never while another callback of this
	// connection runs, so f may use the protocol's state without a lock,
	// as DataReceived does. d <= 0 runs f as soon as the current callback
	// has returned. Every pending call is stopped when the connection is
	// lost: f never runs during or after ConnectionLost, and CallLater
	// after it returns a Timer that never fires. Calls run in the order
	// they fall due, and those due at the same time in the order they
	// were set. A panic in f closes the connection, as one in any callback
	// does. f must not block.
	CallLater(d time.Duration, f func()) Timer
}

// Producer is a source of writes that can be paused (Twisted's
// IPushProducer). Its methods may be called from any goroutine and must
// not block.
type Producer interface {
	PauseProducing()
	ResumeProducing()
}

// FileSender is implemented by transports that can send a file's bytes
// straight from the kernel (sendfile(2)), with no copy through user space.
// SendFile never blocks: it sends up to n bytes of f from offset off and
// returns how many went out. Fewer than n means the socket is full (or
// bytes queued by Write go first): the transport pauses its registered
// producer and resumes it once the socket drains, and the caller sends the
// rest then. Transports under a write rate limit do not offer it.
type FileSender interface {
	SendFile(f *os.File, off, n int64) (int64, error)
}

// MoreWriter is implemented by transports that can be told more bytes
// follow a write at once, so that they leave in the same packets (TCP's
// MSG_MORE; nginx's tcp_nopush does the same with TCP_CORK): an HTTP
// response's head written so before its file body does not cost the
// client a wake-up of its own.
type MoreWriter interface {
	// WriteMore writes p as Write does, but p may wait in the kernel for
	// the next Write or SendFile, which sends it.
	WriteMore(p []byte)
	// Push sends what WriteMore left waiting, for when nothing followed
	// it after all (a file that turned out empty).
	Push()
}

// Detacher is implemented by transports that can hand their connection's
// socket over whole: Detach stops the reactor using the descriptor (no
// more reads, writes or callbacks but ConnectionLost(nil), which follows)
// and returns the socket as a blocking *os.File that the caller owns, say
// to make it a child process's stdin and stdout as inetd does. Call it
// from ConnectionMade, before anything was written: a transport that has
// read past the PROXY header, queued writes, or speaks TLS (whose state
// lives in this process) returns an error and stays as it was.
type Detacher interface {
	Detach() (*os.File, error)
}

// ConnectionStater is implemented by the transports of TLS connections
// (ssl: endpoints): the handshake's outcome — version, ALPN protocol,
// peer certificates — complete by the first DataReceived. It is
// crypto/tls.Conn's method, so code that looks for it on a net.Conn
// (net/http's HTTP/2 server) finds it on a Conn over such a transport.
type ConnectionStater interface {
	ConnectionState() tls.ConnectionState
}

// ReadingProducer is the Producer that pauses and resumes t's reading.
func ReadingProducer(t Transport) Producer { return readingProducer{t} }

type readingProducer struct{ t Transport }

func (r readingProducer) PauseProducing()  { r.t.PauseReading() }
func (r readingProducer) ResumeProducing() { r.t.ResumeReading() }

// Protocol handles one connection. The reactor calls its methods one at a
// time, never concurrently, and never after ConnectionLost.
type Protocol interface {
	// ConnectionMade is called first, with the connection's transport.
	ConnectionMade(t Transport)
	// DataReceived is called with each chunk read. data is only valid
	// during the call: copy what must outlive it.
	DataReceived(data []byte)
	// ConnectionLost is called once when the connection is closed; err is
	// nil for a clean close by either side.
	ConnectionLost(err error)
}

// PullProducer is implemented by protocols that write on their own rather
// than in answer to data (chargen). The transport calls ResumeProducing
// after ConnectionMade and again each time its write buffer runs low; each
// call should write one bounded chunk. Twisted's IPullProducer.
type PullProducer interface {
	ResumeProducing()
}

// HalfCloser is implemented by protocols that want to know when the peer
// has finished sending (read EOF) while the connection stays open for
// writing. Protocols without it see EOF as the end of the connection.
type HalfCloser interface {
	ReadConnectionLost()
}

// Factory builds one Protocol for each accepted connection. Returning nil
// refuses the connection: it is closed at once.
type Factory interface {
	BuildProtocol(peer net.Addr) Protocol
}

// FactoryFunc adapts a function to Factory.
type FactoryFunc func(peer net.Addr) Protocol

// BuildProtocol calls f.
func (f FactoryFunc) BuildProtocol(peer net.Addr) Protocol { return f(peer) }

// DatagramWriter sends datagrams from the socket a datagram arrived on.
type DatagramWriter interface {
	WriteTo(p []byte, addr net.Addr) (int, error)
}

// DatagramProtocol handles datagrams (Twisted's DatagramProtocol). The
// reactor may call DatagramReceived from several goroutines at once; data
// is only valid during the call.
type DatagramProtocol interface {
	DatagramReceived(data []byte, from net.Addr, w DatagramWriter)
}

// DatagramFunc adapts a function to DatagramProtocol.
type DatagramFunc func(data []byte, from net.Addr, w DatagramWriter)

// DatagramReceived calls f.
func (f DatagramFunc) DatagramReceived(data []byte, from net.Addr, w DatagramWriter) {
	f(data, from, w)
}

// Base is an embeddable Protocol with no-op callbacks that keeps the
// transport; embed it and override what you need.
type Base struct {
	Transport Transport
}

// ConnectionMade keeps t in b.Transport.
func (b *Base) ConnectionMade(t Transport) { b.Transport = t }

// DataReceived ignores data.
func (b *Base) DataReceived([]byte) {}

// ConnectionLost does nothing.
func (b *Base) ConnectionLost(error) {}
