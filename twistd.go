// Package twistd runs the twistd command line with every built-in plugin
// plus those the program registered with plugin.Register, so a binary of
// your own is a few lines of main.
//
// A plugin registers itself in an init function; main then hands over:
//
//	package main
//
//	import (
//		"github.com/twistd-go/twistd"
//		_ "example.com/chat" // plugin.Register(chatMaker{}) in its init
//	)
//
//	func main() { twistd.Main() }
//
// The binary is twistd — `mytwistd chat --port 7000`, `mytwistd check -c
// app.yaml`, `mytwistd -n -c app.yaml` with type: chat beside type: web —
// and its plugins get what the built-ins get: strict decoding of their
// keys, policies, allow/deny, TLS and PROXY endpoints, reload, drain,
// metrics, /status, daemonizing and systemd.
package twistd

import (
	"context"
	"os"

	"github.com/twistd-go/twistd/internal/cli"
	// The runtime knobs set before any other package initialises; it
	// imports only the runtime, so it runs among the first.
	_ "github.com/twistd-go/twistd/internal/earlyinit"
	// The built-in plugins: echo, tcp, portforward, web, dns.
	_ "github.com/twistd-go/twistd/internal/plugins/all"
)

// Main runs the command line of os.Args and exits with its code (0 ok, 1
// a runtime failure, 2 a bad command line or application file, 3 the
// daemon asked about is not running).
func Main() {
	os.Exit(Run(context.Background(), os.Args[1:]))
}

// Run runs the command line args (without the program's name) and
// returns the exit code Main would exit with. Cancelling ctx stops an
// application Run is serving in the foreground as SIGTERM does: it
// drains, then Run returns. Run is for a program that does more than
// twistd; call it once per process (it owns the signals, the pidfile and
// the process's privileges while it runs), and early in main: with -u or
// --chroot twistd starts this same executable again as a small root
// helper, and in that process Run serves the helper and returns its exit
// code, whatever args say.
func Run(ctx context.Context, args []string) int {
	return cli.Run(ctx, args)
}
