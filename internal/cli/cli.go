// Package cli is the twistd command line: it runs network services
// composed in a YAML application file, or one service from flags, as a
// well-behaved Unix daemon, with whatever plugins the binary registered.
// The public package twistd (the module's root) runs it with the
// built-in plugins; cmd/twistd is that, and nothing more.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/twistd-go/twistd/internal/process"
)

// Exit codes (SPEC §1).
const (
	exitOK         = 0
	exitFailure    = 1 // runtime failure: bind failed, already running, a service failed to start
	exitUsage      = 2 // bad command line or invalid application file
	exitNotRunning = 3 // status, reload: the daemon is not running
)

// version is set at build time with
// -ldflags "-X github.com/twistd-go/twistd/internal/cli.version=...".
var version = defaultVersion

// exitError carries the exit code an error should end the process with.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// silentExit ends the process with a code and nothing more to print.
type silentExit int

func (s silentExit) Error() string { return fmt.Sprintf("exit %d", int(s)) }

// Run executes the command line args (without the program's name) and
// maps its outcome to an exit code once. Cancelling ctx stops a running
// application as SIGTERM does: it drains, then Run returns.
//
// A process started as the root opener (process.StartOpener runs this
// same executable again to keep a root helper after -u/--chroot) serves
// that instead, whatever args say.
func Run(ctx context.Context, args []string) int {
	if process.IsOpener() {
		return process.RunOpener()
	}
	cmd := newRootCommand()
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var silent silentExit
	if errors.As(err, &silent) {
		return int(silent)
	}
	err = explainUsage(cmd, args, err)
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintln(os.Stderr, "twistd: "+line)
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	// Anything cobra itself rejects (unknown flag or command, bad value)
	// is a bad command line.
	return exitUsage
}
