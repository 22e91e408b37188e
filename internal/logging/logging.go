// Package logging builds the process's zap logger: console or JSON lines
// to stdout, a file (reopened on SIGUSR1, optionally rotated by size) or
// syslog, with repeated warnings and errors rate-limited.
package logging

import (
	"fmt"
	"io"
	"os"
	"sync"
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
	// SyslogSocket is the syslog daemon's socket; empty tries /dev/log,
	// /var/run/syslog and /var/run/log.
	SyslogSocket string
	// MaxSizeMiB rotates the file when it grows past this many MiB (0 = never),
	// keeping MaxBackups old files.
	MaxSizeMiB, MaxBackups int
	// Stdout replaces os.Stdout (for tests).
	Stdout io.Writer
	// Stdio points the process's standard output and error at the log
	// file, on every open and reopen (and size rotation), as a daemon's
	// are: what bypasses the logger (a panic, an access log "-") then
	// lands in the current file, and no moved or deleted file stays open.
	// It applies to a File only, not to stdout or syslog.
	Stdio bool
	// WriteErrors, if set, counts the lines that could not be written,
	// and the failed size rotations.
	WriteErrors Counter
	// Owner, if set, is the user the process will switch to: the log file
	// is given to it (as nginx gives its logs to its workers' user), so
	// that after the switch it can rotate the file, and a logrotate
	// "create" without an owner makes the new file the user's too.
	Owner *Owner
	// Opener, if set, opens the file (not a size-rotated one) now and on
	// every reopen, in this process's place.
	Opener Opener
}

// Owner is a user and group to give files to.
type Owner struct{ UID, GID int }

// Counter counts events; a prometheus.Counter is one.
type Counter interface{ Inc() }

// Logger is the process's logger and the handle to reopen its file.
type Logger struct {
	*zap.Logger
	// Level can be changed while running.
	Level zap.AtomicLevel
	out   output
	core  *switchCore
	// Recent holds the last warnings and errors logged (after the
	// rate limit), for the status page.
	Recent *Recent
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
		sockets := syslogSockets
		if o.SyslogSocket != "" {
			sockets = []string{o.SyslogSocket}
		}
		w, err := dialSyslog(sockets, o.Prefix)
		if err != nil {
			return nil, err
		}
		out = w
	case o.File == "" || o.File == "-":
		w := o.Stdout
		if w == nil {
			w, errOut = os.Stdout, zapcore.Lock(os.Stderr)
		}
		out = nopReopen{zapcore.AddSync(w)}
	case o.MaxSizeMiB > 0:
		if err := giveTo(o.File, o.Owner); err != nil {
			return nil, err
		}
		out = &rotating{lj: &lumberjack.Logger{Filename: o.File, MaxSize: o.MaxSizeMiB, MaxBackups: o.MaxBackups},
			stdio: o.Stdio, errs: o.WriteErrors}
	default:
		open := OpenFileWith
		if o.Stdio {
			open = openStdioFile
		}
		f, err := open(o.File, o.Opener)
		if err != nil {
			return nil, fmt.Errorf("open log file: %w", err)
		}
		if err := giveTo(o.File, o.Owner); err != nil {
			f.Close()
			return nil, err
		}
		out = f
	}
	if errOut == nil {
		errOut = out
	}
	level := zap.NewAtomicLevelAt(lvl)
	core := newSwitchCore(enc, &sink{WriteSyncer: out, errs: o.WriteErrors}, level)
	recent := new(Recent)
	tee := zapcore.NewTee(core, &recentCore{r: recent})
	l := &Logger{Logger: zap.New(newLimitCore(tee), zap.ErrorOutput(errOut)), Level: level, out: out, core: core, Recent: recent}
	if r, ok := out.(*rotating); ok {
		r.log = l.Logger
	}
	return l, nil
}

// giveTo creates the log file at path if need be and gives it to owner
// (nil: leaves it as it is).
func giveTo(path string, owner *Owner) error {
	if owner == nil {
		return nil
	}
	f, err := openAppend(path, 0o644)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	defer f.Close()
	if err := f.Chown(owner.UID, owner.GID); err != nil {
		return fmt.Errorf("log file %s: give it to uid %d gid %d: %w", path, owner.UID, owner.GID, err)
	}
	return nil
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

// rotating is a size-rotated log file (lumberjack names old files with a
// timestamp). When lumberjack cannot rotate (its directory is not
// writable: after -u, or someone changed it), no line is lost: each goes
// on to the end of the file at the path, unrotated, and the failure is
// logged once (and counted) until a rotation succeeds again; lumberjack
// tries again with every line.
type rotating struct {
	lj *lumberjack.Logger
	// stdio: standard output and error follow the file lumberjack
	// writes to (a daemon's process log, see Options.Stdio).
	stdio bool
	errs  Counter
	log   *zap.Logger // reports a failed rotation

	mu  sync.Mutex
	cur os.FileInfo // the file they refer to; nil before the first line
	// stuck is the file written to while rotation fails, nil otherwise.
	stuck *os.File
}

func (r *rotating) Write(p []byte) (int, error) {
	n, err := r.lj.Write(p)
	if err != nil && len(p) > 0 {
		return r.writeUnrotated(p, err)
	}
	r.mu.Lock()
	if r.stuck != nil {
		r.stuck.Close()
		r.stuck = nil
	}
	r.mu.Unlock()
	if r.stdio {
		r.follow()
	}
	return n, err
}

// writeUnrotated appends p to the file at the path after lumberjack
// failed with err, reporting the failure when it is new.
func (r *rotating) writeUnrotated(p []byte, err error) (int, error) {
	r.mu.Lock()
	first := r.stuck == nil
	if first {
		f, oerr := openAppend(r.lj.Filename, 0o644)
		if oerr != nil {
			r.mu.Unlock()
			return 0, fmt.Errorf("%w; and cannot write on unrotated: %w", err, oerr)
		}
		r.stuck = f
	}
	n, werr := r.stuck.Write(p)
	r.mu.Unlock()
	if first {
		if r.errs != nil {
			r.errs.Inc()
		}
		if r.log != nil {
			r.log.Error("cannot rotate the log file; writing on to it unrotated until rotation works again",
				zap.String("file", r.lj.Filename), zap.Int("uid", os.Geteuid()), zap.Error(err))
		}
	}
	return n, werr
}

// follow points standard output and error at the file at the log's path
// when it is not the one they refer to: lumberjack rotated, or reopened
// the path after SIGUSR1. It costs a stat(2) per line; the process log is
// not a hot path. A failure leaves them where they were, to be retried
// with the next line.
func (r *rotating) follow() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if fi, err := os.Stat(r.lj.Filename); err != nil || (r.cur != nil && os.SameFile(fi, r.cur)) {
		return
	}
	f, err := openAppend(r.lj.Filename, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return
	}
	if redirectStdio(f) == nil {
		r.cur = fi
	}
}

func (r *rotating) Sync() error { return nil }

// Reopen closes the file; lumberjack opens its path again on the next
// write. If the path cannot be opened (logrotate created a file this
// user may not write), the file is kept, and lines go on to it.
func (r *rotating) Reopen() error {
	f, err := openAppend(r.lj.Filename, 0o644)
	if err != nil {
		return reopenError(r.lj.Filename, err)
	}
	f.Close()
	return r.Close()
}

func (r *rotating) Close() error {
	r.mu.Lock()
	if r.stuck != nil {
		r.stuck.Close()
		r.stuck = nil
	}
	r.mu.Unlock()
	return r.lj.Close()
}

type nopReopen struct{ zapcore.WriteSyncer }

func (nopReopen) Reopen() error { return nil }
func (nopReopen) Close() error  { return nil }
