package policy

import (
	"net"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// refusalLines is how many refusals one service logs a second; the rest
// are counted, and the next line logged says how many went unlogged.
const refusalLines = 10

// Refusals counts and logs the connections (and datagrams) one service
// refuses, whoever refuses them: the policies here, and the reactor's
// source-address checks at accept. Every refusal is counted; at most
// refusalLines a second are logged, so a flood of refused peers cannot
// flood the log. A nil *Refusals does nothing; its methods are safe for
// concurrent use.
type Refusals struct {
	cnt Counters
	log *zap.Logger
	now func() time.Time

	mu         sync.Mutex
	window     time.Time // start of the current second
	logged     int       // lines logged in it
	suppressed int       // refusals not logged since the last line
}

// NewRefusals returns the refusal record of one service: cnt counts (it
// may be nil), log is the service's logger.
func NewRefusals(log *zap.Logger, cnt Counters) *Refusals {
	if log == nil {
		log = zap.NewNop()
	}
	return &Refusals{cnt: cnt, log: log, now: time.Now}
}

// Refuse counts one refusal for reason and logs msg at level with the
// reason and the peer, unless this second's lines are used up.
func (r *Refusals) Refuse(level zapcore.Level, msg, reason string, peer net.Addr, fields ...zap.Field) {
	if r == nil {
		return
	}
	if r.cnt != nil {
		r.cnt.Refused(reason)
	}
	if !r.log.Core().Enabled(level) {
		return
	}
	r.mu.Lock()
	now := r.now()
	if now.Sub(r.window) >= time.Second {
		r.window, r.logged = now, 0
	}
	if r.logged >= refusalLines {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	r.logged++
	suppressed := r.suppressed
	r.suppressed = 0
	r.mu.Unlock()
	fields = append(fields, zap.String("reason", reason), zap.Stringer("peer", peer))
	if suppressed > 0 {
		fields = append(fields, zap.Int("unlogged_refusals", suppressed))
	}
	if ce := r.log.Check(level, msg); ce != nil {
		ce.Write(fields...)
	}
}
