package service

import "sync/atomic"

// Stats counts one service's traffic. Every field is updated atomically on
// the hot path and may be read at any time. The zero value is ready to use.
type Stats struct {
	ConnectionsAccepted atomic.Int64
	ConnectionsActive   atomic.Int64
	BytesReceived       atomic.Int64
	BytesSent           atomic.Int64
	Requests            atomic.Int64
}
