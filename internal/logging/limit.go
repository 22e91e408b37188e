package logging

import (
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Limits of repeated warnings and errors (see limitCore).
const (
	// limitBurst entries of one kind pass before any is held back.
	limitBurst = 5
	// After the burst the next passes limitFirstGap later, then each gap
	// doubles up to limitMaxGap: one a minute, as nginx logs a repeated
	// error, after a few seconds of detail.
	limitFirstGap = time.Second
	limitMaxGap   = time.Minute
	// limitKeys bounds the kinds tracked; beyond it entries pass unlimited.
	limitKeys = 4096
)

// limitCore rate-limits repeated warnings and errors: entries of the same
// logger (service) and message are one kind, and past a first burst of a
// kind only one passes per gap, the gap doubling from a second to a
// minute. The next one to pass carries `suppressed: N`, the number held
// back since the last; a kind quiet for a minute starts afresh. A full
// disk, a dead upstream or a failing accept loop then costs a few lines a
// minute instead of one per event. Debug and info entries, and those that
// end the process (dpanic, panic, fatal), always pass.
type limitCore struct {
	zapcore.Core
	lim *limiter
}

func newLimitCore(c zapcore.Core) *limitCore {
	return &limitCore{Core: c, lim: &limiter{kinds: make(map[limitKey]*limitState)}}
}

func (c *limitCore) With(fields []zapcore.Field) zapcore.Core {
	return &limitCore{Core: c.Core.With(fields), lim: c.lim}
}

func (c *limitCore) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if ent.Level != zapcore.WarnLevel && ent.Level != zapcore.ErrorLevel || !c.Enabled(ent.Level) {
		return c.Core.Check(ent, ce)
	}
	pass, held := c.lim.allow(limitKey{ent.LoggerName, ent.Message}, ent.Time)
	switch {
	case !pass:
		return ce
	case held > 0:
		return c.Core.With([]zapcore.Field{zap.Int("suppressed", held)}).Check(ent, ce)
	}
	return c.Core.Check(ent, ce)
}

type limitKey struct{ logger, msg string }

type limitState struct {
	burst int           // left to pass before the gaps begin
	gap   time.Duration // the current gap; 0 during the burst
	next  time.Time     // when the next may pass
	last  time.Time     // the last seen, passed or not
	held  int           // held back since the last that passed
}

// limiter is the state of every kind, shared by a logger and all those
// derived from it.
type limiter struct {
	mu    sync.Mutex
	kinds map[limitKey]*limitState
}

// allow reports whether an entry of kind k seen at now passes, and how
// many of its kind were held back before it.
func (l *limiter) allow(k limitKey, now time.Time) (pass bool, held int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.kinds[k]
	if st == nil {
		if len(l.kinds) >= limitKeys {
			l.sweep(now)
			if len(l.kinds) >= limitKeys {
				return true, 0
			}
		}
		st = &limitState{burst: limitBurst}
		l.kinds[k] = st
	}
	if now.Sub(st.last) >= limitMaxGap {
		// Quiet for a while: a fresh burst (what was held back still
		// gets reported, with the first of it).
		st.burst, st.gap = limitBurst, 0
	}
	st.last = now
	switch {
	case st.burst > 0:
		st.burst--
		if st.burst == 0 {
			st.gap = limitFirstGap
			st.next = now.Add(st.gap)
		}
	case !now.Before(st.next):
		st.gap = min(2*st.gap, limitMaxGap)
		st.next = now.Add(st.gap)
	default:
		st.held++
		return false, 0
	}
	held, st.held = st.held, 0
	return true, held
}

// sweep forgets the kinds quiet for longer than the longest gap, and
// with nothing held back.
func (l *limiter) sweep(now time.Time) {
	for k, st := range l.kinds {
		if now.Sub(st.last) >= limitMaxGap && st.held == 0 {
			delete(l.kinds, k)
		}
	}
}
