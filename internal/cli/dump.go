package cli

import (
	"bytes"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// dumpOnSIGQUIT takes SIGQUIT from the runtime, whose answer is to print
// every goroutine and exit 2 (leaving the pidfile, the reload verdict and
// every connection behind). Here it writes the same stacks to the log, as
// one entry whose stack trace they are, and the process keeps serving.
// Call it before anything can send the signal; start the returned
// function with the logger once there is one. stop ends it.
func dumpOnSIGQUIT() (run func(*zap.Logger), stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGQUIT)
	done := make(chan struct{})
	run = func(log *zap.Logger) {
		go func() {
			for {
				select {
				case <-done:
					return
				case <-ch:
					dumpGoroutines(log)
				}
			}
		}()
	}
	stop = func() {
		signal.Stop(ch)
		close(done)
	}
	return run, stop
}

// dumpGoroutines logs the stacks of all goroutines, in the format of a
// panic (pprof's goroutine profile at debug=2).
func dumpGoroutines(log *zap.Logger) {
	var buf bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&buf, 2)
	// Written to the core directly: asked for, it shows at any log level.
	ent := zapcore.Entry{Level: zapcore.InfoLevel, Time: time.Now(),
		Message: "received signal; goroutine dump follows", Stack: buf.String()}
	_ = log.Core().Write(ent, []zapcore.Field{zap.String("signal", "SIGQUIT"),
		zap.Int("goroutines", bytes.Count(buf.Bytes(), []byte("\ngoroutine "))+1)})
}
