// Package reactor owns the process's lifetime: it binds every listener
// before privileges drop, starts the services, runs until a signal, reloads
// and reopens logs on request, and drains everything on the way out. It
// also drives stream and datagram protocols on the bound sockets.
package reactor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/internal/metrics"
	"github.com/twistd-go/twistd/internal/protocol"
	"github.com/twistd-go/twistd/internal/reactor/endpoint"
	"github.com/twistd-go/twistd/internal/service"
)

// ErrForced is returned by Run when a second stop signal cut the drain short.
var ErrForced = errors.New("forced stop")

// Unit is one service to run, with the endpoints it listens on.
type Unit struct {
	Name, Type string
	// Pos is where the unit is defined (file:line:col), for messages.
	Pos     string
	Listen  []endpoint.Endpoint
	Service service.Service
}

// State is where the process is in its life.
type State int32

// The states, in order.
const (
	Starting State = iota
	Ready
	Stopping
)

// Hooks are the process-level actions the reactor calls at their moment.
// Every field is optional.
type Hooks struct {
	// Bound runs once every socket is bound, before any service starts:
	// chroot and dropping privileges go here.
	Bound func() error
	// Ready runs once every service started.
	Ready func()
	// Stopping runs when a stop signal arrives.
	Stopping func()
	// Reload runs on SIGHUP; its error is logged.
	Reload func(ctx context.Context) error
	// Reopen runs on SIGUSR1 to reopen log files.
	Reopen func() error
}

// Options configure Run.
type Options struct {
	Logger          *zap.Logger
	ShutdownTimeout time.Duration
	ShutdownDelay   time.Duration
	Hooks           Hooks
	// Metrics is the process's metrics; nil makes a private set.
	Metrics *metrics.Metrics
	// GoroutineDriver serves stream protocols with a goroutine per
	// connection instead of the event loops (for comparison and tests).
	GoroutineDriver bool
	// Signals, when set, replaces the process's signals (for tests).
	Signals <-chan os.Signal
}

// Reactor runs one application's units.
type Reactor struct {
	opts  Options
	log   *zap.Logger
	pool  *Pool
	multi service.Multi
	state atomic.Int32
	stats map[string]*service.Stats
	addrs map[string][]net.Addr

	loopsMu sync.Mutex
	loops   []*loop

	// dialer owns outgoing connections (their traffic is not a service's).
	dialerOnce sync.Once
	dialer     *estreamServer
	dialNext   atomic.Uint32
}

// eventLoops returns the reactor's event loops, one per CPU the runtime
// uses, starting them on first use.
func (r *Reactor) eventLoops() ([]*loop, error) {
	r.loopsMu.Lock()
	defer r.loopsMu.Unlock()
	if r.loops == nil {
		for i := 0; i < runtime.GOMAXPROCS(0); i++ {
			l, err := newLoop(r.log)
			if err != nil {
				for _, l := range r.loops {
					l.stop()
				}
				r.loops = nil
				return nil, err
			}
			r.loops = append(r.loops, l)
		}
	}
	return r.loops, nil
}

// adopt moves an outgoing connection onto an event loop, running p on it.
func (r *Reactor) adopt(nc net.Conn, p protocol.Protocol) error {
	loops, err := r.eventLoops()
	if err != nil {
		return err
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return fmt.Errorf("cannot drive a %T", nc)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(f uintptr) { fd, derr = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return err
	}
	if derr != nil {
		return derr
	}
	peer := nc.RemoteAddr()
	nc.Close() // the duplicate keeps the socket (and its O_NONBLOCK) alive
	r.dialerOnce.Do(func() {
		r.dialer = &estreamServer{fd: -1, log: r.log, stats: &service.Stats{}, loops: loops,
			conns: make(map[*econn]struct{}), drained: make(chan struct{})}
	})
	d := r.dialer
	l := loops[int(r.dialNext.Add(1))%len(loops)]
	c := newEconn(fd, l, d, p, peer)
	d.mu.Lock()
	d.conns[c] = struct{}{}
	d.mu.Unlock()
	d.stats.ConnectionsActive.Add(1)
	l.add(c)
	return nil
}

// stopLoops ends the event loops once their connections are gone.
func (r *Reactor) stopLoops() {
	r.loopsMu.Lock()
	loops := r.loops
	r.loops = nil
	r.loopsMu.Unlock()
	for _, l := range loops {
		l.stop()
	}
}

// New returns a reactor for opts.
func New(opts Options) *Reactor {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.New("")
	}
	return &Reactor{opts: opts, log: opts.Logger, pool: NewPool(),
		stats: make(map[string]*service.Stats), addrs: make(map[string][]net.Addr)}
}

// State returns the process's current state.
func (r *Reactor) State() State { return State(r.state.Load()) }

// Stats returns the traffic counters of the named service, nil if unknown.
func (r *Reactor) Stats(name string) *service.Stats { return r.stats[name] }

// Addrs returns the real addresses the named service listens on.
func (r *Reactor) Addrs(name string) []net.Addr { return r.addrs[name] }

// Run binds, starts and serves units until ctx is cancelled or a stop
// signal arrives, then stops them gracefully. It returns nil after a clean
// stop (a drain that hit the shutdown timeout included), ErrForced after a
// second stop signal, and an error naming the service and endpoint when
// something failed to start — in which case nothing is left bound or running.
func (r *Reactor) Run(ctx context.Context, units []Unit) error {
	sigs := r.opts.Signals
	if sigs == nil {
		ch := make(chan os.Signal, 4)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)
		defer signal.Stop(ch)
		sigs = ch
	}

	children, err := r.bind(units)
	if err != nil {
		r.pool.Close()
		return err
	}
	if h := r.opts.Hooks.Bound; h != nil {
		if err := h(); err != nil {
			r.pool.Close()
			return err
		}
	}
	if err := r.multi.Start(ctx, children); err != nil {
		r.pool.Close()
		var se *service.StartError
		if errors.As(err, &se) {
			for _, u := range units {
				if u.Name == se.Service {
					return fmt.Errorf("%s: %w", u.Pos, err)
				}
			}
		}
		return err
	}
	r.state.Store(int32(Ready))
	r.log.Info("ready", zap.Int("services", len(units)))
	if h := r.opts.Hooks.Ready; h != nil {
		h()
	}
	return r.serve(ctx, sigs)
}

// bind acquires every unit's sockets, logging each real address.
func (r *Reactor) bind(units []Unit) ([]service.Child, error) {
	var children []service.Child
	for _, u := range units {
		log := r.log.Named(u.Name)
		stats := &service.Stats{}
		r.stats[u.Name] = stats
		env := &service.Env{Name: u.Name, Type: u.Type, Logger: log, Stats: stats, Metrics: r.opts.Metrics,
			Runner: runner{r: r, log: log, stats: stats}}
		for _, ep := range u.Listen {
			l, err := r.listen(ep)
			if err != nil {
				return nil, fmt.Errorf("%s: service %q: listen %s: %w", u.Pos, u.Name, ep, bindError(err))
			}
			var addr net.Addr
			if l.Stream != nil {
				addr = l.Stream.Addr()
			} else {
				addr = l.Packet.LocalAddr()
			}
			r.addrs[u.Name] = append(r.addrs[u.Name], addr)
			log.Info("listening on "+addr.String(), zap.String("endpoint", ep.String()), zap.String("network", addr.Network()))
			env.Listeners = append(env.Listeners, l)
		}
		children = append(children, service.Child{Name: u.Name, Service: u.Service, Env: env})
	}
	return children, nil
}

func (r *Reactor) listen(ep endpoint.Endpoint) (service.Listener, error) {
	if ep.HAProxy {
		return service.Listener{}, errors.New("PROXY protocol (haproxy:) endpoints are not served yet")
	}
	var cert *certificate
	if ep.Kind == endpoint.SSL {
		var err error
		if cert, err = loadCertificate(ep); err != nil {
			return service.Listener{}, err
		}
	}
	ln, pc, err := r.pool.Acquire(ep)
	if err != nil {
		return service.Listener{}, err
	}
	l := service.Listener{Endpoint: ep, Stream: ln, Packet: pc}
	if cert != nil {
		l.TLS = cert.config([]string{"h2", "http/1.1"})
	}
	return l, nil
}

// bindError drops the "listen tcp 127.0.0.1:80" preamble Go puts before
// the reason: the caller names the endpoint already.
func bindError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// serve waits for signals until a stop, then drains.
func (r *Reactor) serve(ctx context.Context, sigs <-chan os.Signal) error {
	for {
		var sig os.Signal
		select {
		case <-ctx.Done():
			return r.stop(nil, sigs)
		case sig = <-sigs:
		}
		switch sig {
		case syscall.SIGHUP:
			r.log.Info("received signal", zap.String("signal", "SIGHUP"))
			if h := r.opts.Hooks.Reload; h != nil {
				if err := h(ctx); err != nil {
					r.log.Error("reload failed; still running the previous configuration", zap.Error(err))
				}
			}
		case syscall.SIGUSR1:
			r.log.Info("received signal; reopening logs", zap.String("signal", "SIGUSR1"))
			if h := r.opts.Hooks.Reopen; h != nil {
				if err := h(); err != nil {
					r.log.Error("reopening logs failed", zap.Error(err))
				} else {
					r.log.Info("logs reopened")
				}
			}
			for _, c := range r.multi.Children() {
				if ro, ok := c.Service.(service.Reopener); ok {
					if err := ro.Reopen(); err != nil {
						c.Env.Logger.Error("reopening logs failed", zap.Error(err))
					}
				}
			}
		default:
			return r.stop(sig, sigs)
		}
	}
}

// stop runs the graceful stop: report not-ready, wait out the shutdown
// delay, then stop services in reverse within the shutdown timeout. A
// second stop signal at any point forces an immediate exit.
func (r *Reactor) stop(sig os.Signal, sigs <-chan os.Signal) error {
	name := "context cancelled"
	if sig != nil {
		name = signalName(sig)
	}
	r.log.Info("received signal; stopping", zap.String("signal", name),
		zap.Duration("shutdown_timeout", r.opts.ShutdownTimeout))
	r.state.Store(int32(Stopping))
	if h := r.opts.Hooks.Stopping; h != nil {
		h()
	}
	if d := r.opts.ShutdownDelay; d > 0 {
		r.log.Info("not ready; serving on until the shutdown delay ends", zap.Duration("shutdown_delay", d))
		timer := time.NewTimer(d)
		defer timer.Stop()
	wait:
		for {
			select {
			case <-timer.C:
				break wait
			case s := <-sigs:
				if isStop(s) {
					return r.force(s)
				}
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.ShutdownTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.multi.Stop(ctx) }()
	for {
		select {
		case err := <-done:
			if err != nil {
				r.log.Warn("services did not all stop cleanly", zap.Error(err))
			}
			r.pool.Close()
			r.stopLoops()
			r.log.Info("shutdown complete")
			return nil
		case s := <-sigs:
			if isStop(s) {
				return r.force(s)
			}
		}
	}
}

func (r *Reactor) force(sig os.Signal) error {
	r.log.Warn("received second signal; stopping now", zap.String("signal", signalName(sig)))
	r.pool.Close()
	return ErrForced
}

func isStop(s os.Signal) bool { return s == syscall.SIGTERM || s == syscall.SIGINT }

func signalName(s os.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGUSR1:
		return "SIGUSR1"
	}
	return s.String()
}

// runner is the service.Runner of one service: its loops log as the
// service and count into its stats.
type runner struct {
	r     *Reactor
	log   *zap.Logger
	stats *service.Stats
}

// ServeStream runs f on the event loops when the socket is plain TCP or
// unix; TLS endpoints keep a goroutine per connection (crypto/tls needs one).
func (r runner) ServeStream(l service.Listener, f protocol.Factory) service.Server {
	if l.TLS == nil && !r.r.opts.GoroutineDriver {
		if fd, isUnix, ok := rawListener(l.Stream); ok {
			loops, err := r.r.eventLoops()
			if err == nil {
				var s *estreamServer
				if s, err = newEstreamServer(fd, isUnix, l.Stream, f, loops, r.log, r.stats); err == nil {
					return s
				}
			}
			r.log.Warn("event loops unavailable; serving with a goroutine per connection", zap.Error(err))
		}
	}
	return newStreamServer(l.Listen(nil), f, r.log, r.stats)
}

// Dial implements service.Runner: the connection is made in a goroutine,
// then its socket joins an event loop like an accepted one.
func (r runner) Dial(network, addr string, timeout time.Duration, p protocol.Protocol, failed func(error)) {
	go func() {
		nc, err := net.DialTimeout(network, addr, timeout)
		if err != nil {
			failed(err)
			return
		}
		if err := r.r.adopt(nc, p); err != nil {
			nc.Close()
			failed(err)
		}
	}()
}

func (r runner) ServePacket(l service.Listener, p protocol.DatagramProtocol) service.Server {
	return newPacketServer(l.Packet, p, r.log, r.stats)
}
