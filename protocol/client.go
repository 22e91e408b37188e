package protocol

// ClientFactory is implemented by a Factory given to Runner.Dial that
// wants to hear how its connection ends, Twisted's ClientFactory. Exactly
// one of the two is called for each Dial:
//
//   - ClientConnectionFailed when no connection was made: refused,
//     unreachable, timed out, the TLS handshake or the server's
//     certificate failed, the attempt was cancelled, or BuildProtocol
//     returned nil. No protocol saw anything. It is called from the
//     goroutine that dialed.
//   - ClientConnectionLost after the connection's protocol got its
//     ConnectionLost, with the same error (nil for a clean close). It is
//     called serialised with that protocol's callbacks and, like them,
//     must not block.
//
// A reconnecting client reconnects from either.
type ClientFactory interface {
	Factory
	ClientConnectionFailed(err error)
	ClientConnectionLost(err error)
}

// ConnectNotifier is implemented by a Factory given to Runner.Dial that
// wants to know when its connection is up: ClientConnectionMade is
// called with the connection's protocol right after that protocol's
// ConnectionMade returned, before any DataReceived, serialised with its
// callbacks, and must not block. A reconnecting client uses it to reset
// its backoff and to hand the connection to whoever waits for it (Twisted's
// ClientService.whenConnected).
type ConnectNotifier interface {
	ClientConnectionMade(p Protocol)
}
