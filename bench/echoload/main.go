// Command echoload measures an echo server (RFC 862) from the outside: the
// round trips per second and their latency with N connections each keeping
// one message in flight (ping-pong), the throughput of connections that
// write and read at once (stream), and whether N idle connections all stay
// open (idle, while a script reads the server's memory). Every failed
// connection is counted by cause and makes the exit status non-zero.
//
//	go run ./bench/echoload -mode pingpong -conns 64 -size 64 -duration 10s -addr 127.0.0.1:7000
//	go run ./bench/echoload -mode stream -conns 4 -size 262144 -duration 10s -addr 127.0.0.1:7000
//	go run ./bench/echoload -mode idle -conns 10000 -hold 10s -addr 127.0.0.1:7000
//
// With -json it also prints one JSON object, the last line of its output.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"
)

// Exit statuses.
const (
	exitOK     = 0 // every connection worked
	exitFailed = 1 // at least one connection failed, or none could run
	exitUsage  = 2 // bad flags
)

// config is one run's parameters, from the flags.
type config struct {
	Mode     string
	Addr     string
	Conns    int
	Size     int
	Duration time.Duration
	Hold     time.Duration
	Timeout  time.Duration
	Dialers  int
	MaxFail  int
	Engine   string
	Workers  int
}

// result is one run's figures; its JSON form is what scripts read.
type result struct {
	Mode       string           `json:"mode"`
	Engine     string           `json:"engine,omitempty"`
	Conns      int              `json:"conns"`
	Open       int              `json:"open"`
	NotTried   int              `json:"not_tried,omitempty"`
	Size       int              `json:"size"`
	Seconds    float64          `json:"seconds"`
	Messages   uint64           `json:"messages"`
	Bytes      uint64           `json:"bytes"`
	MsgsPerSec float64          `json:"msgs_per_sec"`
	MBPerSec   float64          `json:"mb_per_sec"`
	P50us      float64          `json:"p50_us"`
	P99us      float64          `json:"p99_us"`
	MaxUs      float64          `json:"max_us"`
	Errors     int64            `json:"errors"`
	ErrorKinds map[string]int64 `json:"error_kinds,omitempty"`

	firstErrs []string
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("echoload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	var asJSON bool
	fs.StringVar(&cfg.Mode, "mode", "pingpong", "pingpong, stream or idle")
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:7", "echo server `host:port`")
	fs.IntVar(&cfg.Conns, "conns", 1, "connections")
	fs.IntVar(&cfg.Size, "size", 64, "message size in bytes (stream: bytes per write)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to send (pingpong, stream)")
	fs.DurationVar(&cfg.Hold, "hold", 10*time.Second, "how long to hold the connections (idle)")
	fs.DurationVar(&cfg.Timeout, "timeout", 5*time.Second, "limit for a dial, a verifying round trip, and the last echo after -duration")
	fs.IntVar(&cfg.Dialers, "dialers", 32, "connections being dialed and verified at once")
	fs.IntVar(&cfg.MaxFail, "maxfail", 100, "stop opening connections after this many failed (0: try them all)")
	fs.StringVar(&cfg.Engine, "engine", defaultEngine, "pingpong client: epoll (one loop per worker; Linux) or goroutine (one per connection)")
	fs.IntVar(&cfg.Workers, "workers", runtime.GOMAXPROCS(0), "epoll engine: event loops, each with its own thread")
	fs.BoolVar(&asJSON, "json", false, "also print the result as one JSON object")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(stderr, "echoload: %v\n", err)
		return exitUsage
	}
	if err := raiseFileLimit(cfg.Conns + 64); err != nil {
		fmt.Fprintf(stderr, "echoload: %v\n", err)
	}

	var res *result
	var err error
	switch cfg.Mode {
	case "pingpong":
		res, err = pingpong(cfg)
	case "stream":
		res, err = stream(cfg)
	case "idle":
		res, err = idle(cfg, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "echoload: %v\n", err)
		return exitFailed
	}
	fmt.Fprintln(stdout, res.human())
	for _, line := range res.firstErrs {
		fmt.Fprintf(stderr, "echoload: first %s\n", line)
	}
	if asJSON {
		b, _ := json.Marshal(res)
		fmt.Fprintln(stdout, string(b))
	}
	if res.Errors > 0 || res.Open == 0 {
		return exitFailed
	}
	return exitOK
}

func (c *config) validate() error {
	switch c.Mode {
	case "pingpong", "stream", "idle":
	default:
		return fmt.Errorf("-mode %q: want pingpong, stream or idle", c.Mode)
	}
	switch c.Engine {
	case "epoll", "goroutine":
	default:
		return fmt.Errorf("-engine %q: want epoll or goroutine", c.Engine)
	}
	switch {
	case c.Conns < 1:
		return errors.New("-conns must be at least 1")
	case c.Size < 1:
		return errors.New("-size must be at least 1")
	case c.Duration <= 0 || c.Hold < 0 || c.Timeout <= 0:
		return errors.New("-duration and -timeout must be positive, -hold not negative")
	case c.Workers < 1:
		c.Workers = 1
	}
	return nil
}

// finish fills the fields common to every mode.
func (r *result) finish(cfg config, elapsed time.Duration, h *hist, errs *errorCounts) {
	r.Mode, r.Conns, r.Size = cfg.Mode, cfg.Conns, cfg.Size
	r.Seconds = elapsed.Seconds()
	if r.Seconds > 0 {
		r.MsgsPerSec = float64(r.Messages) / r.Seconds
		r.MBPerSec = float64(r.Bytes) / 1e6 / r.Seconds
	}
	if h != nil {
		r.P50us = us(h.quantile(0.50))
		r.P99us = us(h.quantile(0.99))
		r.MaxUs = us(time.Duration(h.max))
	}
	r.Errors = errs.total()
	r.ErrorKinds = errs.byKind()
	r.firstErrs = errs.firsts()
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()/100) / 10 }

// human is the one-line report.
func (r *result) human() string {
	var s string
	switch r.Mode {
	case "pingpong":
		s = fmt.Sprintf("pingpong %d conns %d B %.1fs: %.0f msgs/s, %.2f MB/s, latency p50 %.1fµs p99 %.1fµs max %.1fµs",
			r.Conns, r.Size, r.Seconds, r.MsgsPerSec, r.MBPerSec, r.P50us, r.P99us, r.MaxUs)
	case "stream":
		s = fmt.Sprintf("stream %d conns %d B writes %.1fs: %.1f MB/s received", r.Conns, r.Size, r.Seconds, r.MBPerSec)
	case "idle":
		s = fmt.Sprintf("idle %d conns: %d held open for %.1fs", r.Conns, r.Open, r.Seconds)
	}
	if r.Open < r.Conns && r.Mode != "idle" {
		s += fmt.Sprintf(", only %d of %d conns opened", r.Open, r.Conns)
	}
	if r.NotTried > 0 {
		s += fmt.Sprintf(", gave up on the last %d", r.NotTried)
	}
	if r.Errors == 0 {
		return s + ", 0 errors"
	}
	return s + fmt.Sprintf(", %d errors (%s)", r.Errors, summary(r.ErrorKinds))
}
