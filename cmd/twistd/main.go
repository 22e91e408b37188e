// Command twistd runs network services composed in a YAML application file,
// or one built-in service from flags, as a well-behaved Unix daemon.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	_ "github.com/twistd-go/twistd/cmd/twistd/internal/earlyinit"
	_ "github.com/twistd-go/twistd/internal/plugins/all"
)

// Exit codes (SPEC §1).
const (
	exitOK         = 0
	exitFailure    = 1 // runtime failure: bind failed, already running, a service failed to start
	exitUsage      = 2 // bad command line or invalid application file
	exitNotRunning = 3 // status, reload: the daemon is not running
)

// version is set at build time with -ldflags "-X main.version=...".
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

func main() {
	os.Exit(run(os.Args[1:]))
}

// run executes the command line and maps its outcome to an exit code once.
func run(args []string) int {
	cmd := newRootCommand()
	cmd.SetArgs(args)
	err := cmd.Execute()
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
