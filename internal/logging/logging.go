// Package logging builds the process's zap logger: console or JSON lines
// to stdout, a file (reopened on SIGUSR1, optionally rotated by size) or
// syslog.
package logging

import (
	"fmt"
	"io"
	"log/syslog"
	"os"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"gopkg.in/natefinch/lumberjack.v2"
)

// Options choose where and how the process logs.
type Options struct {
	// File is the log file; "-" or "" means stdout.
	File string
	// Format is "console" or "json".
	Format string
	// Level is "debug", "info", "warn" or "error".
	Level string
	// Syslog sends lines to the local syslog daemon tagged Prefix instead of File.
	Syslog bool
	Prefix string
	// MaxSizeMiB rotates the file when it grows past this many MiB (0 = never),
	// keeping MaxBackups old files.
	MaxSizeMiB, MaxBackups int
	// Stdout replaces os.Stdout (for tests).
	Stdout io.Writer
	// WriteErrors, if set, counts the lines that could not be written.
	WriteErrors Counter
}

// Counter counts events; a prometheus.Counter is one.
type Counter interface{ Inc() }

// Logger is the process's logger and the handle to reopen its file.
type Logger struct {
	*zap.Logger
	// Level can be changed while running.
	Level zap.AtomicLevel
	out   output
	core  *switchCore
}

type output interface {
	zapcore.WriteSyncer
	Reopen() error
	Close() error
}

// ParseLevel checks a level name.
func ParseLevel(s string) (zapcore.Level, error) {
	switch s {
	case "debug", "info", "warn", "error":
		return zapcore.ParseLevel(s)
	}
	return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
}

// New opens the log destination and returns a logger writing to it.
func New(o Options) (*Logger, error) {
	lvl, err := ParseLevel(o.Level)
	if err != nil {
		return nil, err
	}
	enc, err := Encoder(o.Format)
	if err != nil {
		return nil, err
	}
	var out output
	// zap reports its own failures (a line that could not be written) to
	// errOut: standard error when the log is standard output, so a reader
	// that went away does not swallow the report too.
	var errOut zapcore.WriteSyncer
	switch {
	case o.Syslog:
		w, err := syslog.New(syslog.LOG_INFO|syslog.LOG_DAEMON, o.Prefix)
		if err != nil {
			return nil, fmt.Errorf("syslog: %w", err)
		}
		out = &syslogOutput{w: w}
	case o.File == "" || o.File == "-":
		w := o.Stdout
		if w == nil {
			w, errOut = os.Stdout, zapcore.Lock(os.Stderr)
		}
		out = nopReopen{zapcore.AddSync(w)}
	case o.MaxSizeMiB > 0:
		out = &rotating{lj: &lumberjack.Logger{Filename: o.File, MaxSize: o.MaxSizeMiB, MaxBackups: o.MaxBackups}}
	default:
		f, err := OpenFile(o.File)
		if err != nil {
			return nil, fmt.Errorf("open log file: %w", err)
		}
		out = f
	}
	if errOut == nil {
		errOut = out
	}
	level := zap.NewAtomicLevelAt(lvl)
	core := newSwitchCore(enc, &sink{WriteSyncer: out, errs: o.WriteErrors}, level)
	return &Logger{Logger: zap.New(core, zap.ErrorOutput(errOut)), Level: level, out: out, core: core}, nil
}

// Encoder returns the encoder for a log format: console lines like
// `2026-11-22T07:58:00.123Z  INFO  [site]  listening on 127.0.0.1:8080`, or
// one JSON object a line with ts, level, msg and service.
func Encoder(format string) (zapcore.Encoder, error) {
	cfg := zapcore.EncoderConfig{
		TimeKey:        "ts",
		LevelKey:       "level",
		NameKey:        "service",
		MessageKey:     "msg",
		StacktraceKey:  "stacktrace",
		LineEnding:     zapcore.DefaultLineEnding,
		EncodeTime:     utcTime,
		EncodeDuration: zapcore.StringDurationEncoder,
	}
	switch format {
	case "console", "":
		cfg.EncodeLevel = zapcore.CapitalLevelEncoder
		cfg.EncodeName = func(name string, enc zapcore.PrimitiveArrayEncoder) { enc.AppendString("[" + name + "]") }
		cfg.ConsoleSeparator = "  "
		return zapcore.NewConsoleEncoder(cfg), nil
	case "json":
		cfg.EncodeLevel = zapcore.LowercaseLevelEncoder
		cfg.EncodeName = zapcore.FullNameEncoder
		return zapcore.NewJSONEncoder(cfg), nil
	}
	return nil, fmt.Errorf("log format %q: want console or json", format)
}

func utcTime(t time.Time, enc zapcore.PrimitiveArrayEncoder) {
	enc.AppendString(t.UTC().Format("2006-01-02T15:04:05.000Z"))
}

// SetFormat switches the encoding of every logger derived from l.
func (l *Logger) SetFormat(format string) error {
	enc, err := Encoder(format)
	if err != nil {
		return err
	}
	l.core.enc.Store(&enc)
	return nil
}

// SetLevel changes the level of every logger derived from l.
func (l *Logger) SetLevel(level string) error {
	lvl, err := ParseLevel(level)
	if err != nil {
		return err
	}
	l.Level.SetLevel(lvl)
	return nil
}

// Reopen reopens the log file (after logrotate moved it away).
func (l *Logger) Reopen() error { return l.out.Reopen() }

// Close flushes and closes the log destination.
func (l *Logger) Close() error {
	_ = l.Sync()
	return l.out.Close()
}

// rotating is a size-rotated log file (lumberjack names old files with a timestamp).
type rotating struct {
	lj *lumberjack.Logger
}

func (r *rotating) Write(p []byte) (int, error) { return r.lj.Write(p) }
func (r *rotating) Sync() error                 { return nil }

// Reopen closes the file; lumberjack opens its path again on the next write.
func (r *rotating) Reopen() error { return r.lj.Close() }
func (r *rotating) Close() error  { return r.lj.Close() }

type nopReopen struct{ zapcore.WriteSyncer }

func (nopReopen) Reopen() error { return nil }
func (nopReopen) Close() error  { return nil }

type syslogOutput struct{ w *syslog.Writer }

func (s *syslogOutput) Write(p []byte) (int, error) { return s.w.Write(p) }
func (s *syslogOutput) Sync() error                 { return nil }
func (s *syslogOutput) Reopen() error               { return nil }
func (s *syslogOutput) Close() error                { return s.w.Close() }
