package logging

import (
	"sync/atomic"

	"go.uber.org/zap/zapcore"
)

// switchCore is a zapcore.Core whose encoder can be swapped while the
// process runs (a reload may change log_format): every logger derived
// with With or Named shares the encoder pointer and the sink.
type switchCore struct {
	zapcore.LevelEnabler
	enc    *atomic.Pointer[zapcore.Encoder]
	fields []zapcore.Field
	out    *sink
}

// sink is the destination every clone of a switchCore writes to. It counts
// the writes that fail, and reports only the first of a run of failures:
// zap writes a failed entry's error to its ErrorOutput, and a full disk or
// a closed pipe would otherwise double every lost line with a complaint.
type sink struct {
	zapcore.WriteSyncer
	errs    Counter
	failing atomic.Bool
}

// levelWriter is an output that records each entry's level itself (syslog's severity).
type levelWriter interface {
	WriteLevel(l zapcore.Level, p []byte) error
}

func (s *sink) write(l zapcore.Level, p []byte) error {
	var err error
	if lw, ok := s.WriteSyncer.(levelWriter); ok {
		err = lw.WriteLevel(l, p)
	} else {
		_, err = s.Write(p)
	}
	if err == nil {
		s.failing.Store(false)
		return nil
	}
	if s.errs != nil {
		s.errs.Inc()
	}
	if s.failing.Swap(true) {
		return nil
	}
	return err
}

func newSwitchCore(enc zapcore.Encoder, out *sink, level zapcore.LevelEnabler) *switchCore {
	p := new(atomic.Pointer[zapcore.Encoder])
	p.Store(&enc)
	return &switchCore{LevelEnabler: level, enc: p, out: out}
}

func (c *switchCore) With(fields []zapcore.Field) zapcore.Core {
	clone := *c
	clone.fields = append(append([]zapcore.Field(nil), c.fields...), fields...)
	return &clone
}

func (c *switchCore) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(ent.Level) {
		return ce.AddCore(ent, c)
	}
	return ce
}

func (c *switchCore) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	enc := (*c.enc.Load()).Clone()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	buf, err := enc.EncodeEntry(ent, fields)
	if err != nil {
		return err
	}
	err = c.out.write(ent.Level, buf.Bytes())
	buf.Free()
	if ent.Level > zapcore.ErrorLevel {
		_ = c.out.Sync()
	}
	return err
}

func (c *switchCore) Sync() error { return c.out.Sync() }
