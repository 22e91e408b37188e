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

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/internal/metrics"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// ErrForced is returned by Run when a second stop signal cut the drain short.
var ErrForced = errors.New("forced stop")

// running is one instance of a service with what the reactor gave it. It
// is a service itself, the child of the reactor's tree (service.Multi):
// its Stop stops the accept loops, then the instance, then gives the
// sockets back.
type running struct {
	spec Spec
	// svc is the instance: spec.Service, or one spec.New made for a
	// restart.
	svc   service.Service
	env   *service.Env
	addrs []net.Addr
	// listen is what the instance was bound to: spec.Listen with the
	// ports of a predecessor's port-0 endpoints filled in.
	listen []endpoint.Endpoint
	// certs are its ssl endpoints' key pairs, re-read when a reload keeps it.
	certs []*certificate
	// accepting are the accept loops its runner made.
	accepting *acceptors
	// health is the service's supervision record, shared with the
	// instances that replace this one after a failure.
	health *health
	// failed: this instance reported a failure (guarded by health.mu);
	// stopped: the serve loop stopped it to restart the service.
	failed, stopped bool
	// stopping makes Stop act once, whoever asks (a restart, then a
	// reload or the final stop).
	stopping sync.Once
}

// child is rn as a member of the reactor's tree.
func (rn *running) child() service.Child {
	return service.Child{Name: rn.spec.Name, Service: rn, Env: rn.env}
}

// Start starts the instance.
func (rn *running) Start(ctx context.Context, env *service.Env) error { return rn.svc.Start(ctx, env) }

// Stop stops the instance within ctx and gives its sockets back. Its
// accept loops stop first, so no connection reaches a service that is
// stopping. It acts once; a drain cut short by ctx is only logged.
func (rn *running) Stop(ctx context.Context) error {
	rn.stopping.Do(func() {
		rn.accepting.stopAccepting()
		if err := rn.svc.Stop(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			rn.env.Logger.Warn("service did not stop cleanly", zap.Error(err))
		}
		rn.release()
	})
	return nil
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
	// Upgrade runs on SIGUSR2: start the new binary on the sockets
	// Handoff gives. True means the successor is ready and serves them:
	// this process then drains and stops, as on SIGTERM. A failure is
	// the hook's to log.
	Upgrade func(ctx context.Context) bool
}

// Options configure Run.
type Options struct {
	Logger          *zap.Logger
	ShutdownTimeout time.Duration
	ShutdownDelay   time.Duration
	Hooks           Hooks
	// Metrics is the process's metrics; nil makes a private set.
	Metrics *metrics.Metrics
	// Reactor names the driver of stream connections (Epoll or
	// Goroutines, see Reactors); empty means DefaultReactor.
	Reactor string
	// CPUs is how many CPUs the process was given: the epoll reactor runs
	// an event loop on each, and services learn it from Env.CPUs. 0 means
	// GOMAXPROCS at New. The reactor never changes GOMAXPROCS itself: the
	// caller gives the runtime room for the loops (internal/cli/knobs.go).
	CPUs int
	// Signals, when set, replaces the process's signals (for tests).
	Signals <-chan os.Signal
	// Backoff paces the restarts of failed services; zero means
	// DefaultBackoff.
	Backoff Backoff
	// Bulk is the services' Env.Bulk: the caller's runtime knob for bulk
	// transfers (internal/cli/knobs.go); nil leaves the runtime alone.
	Bulk func() (end func())
	// HelperEnv is the services' Env.HelperEnv (internal/cli/knobs.go).
	HelperEnv []string
}

// Reactor runs one application's services.
type Reactor struct {
	opts    Options
	reactor string // Epoll or Goroutines
	log     *zap.Logger
	pool    *Pool
	state   atomic.Int32

	// tree is the running services in file order, each a *running.
	tree     service.Multi
	draining sync.WaitGroup

	// epoll is the event loops and their dialer (Linux; empty elsewhere).
	epoll epollState

	// events are failures and due restarts for the serve loop.
	events  events
	backoff Backoff

	// goDialer owns outgoing connections on goroutines (their traffic is
	// not a service's).
	dialerOnce sync.Once
	goDialer   *streamServer
	// stopped is set once the services are stopped: Dial fails from then.
	stopped atomic.Bool
}

// New returns a reactor for opts.
func New(opts Options) *Reactor {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.New("")
	}
	if opts.CPUs <= 0 {
		opts.CPUs = runtime.GOMAXPROCS(0)
	}
	reactor := opts.Reactor
	if reactor == "" {
		reactor = DefaultReactor()
	}
	backoff := opts.Backoff
	if backoff == (Backoff{}) {
		backoff = DefaultBackoff
	}
	return &Reactor{opts: opts, log: opts.Logger, pool: NewPool(), reactor: reactor, backoff: backoff,
		events: events{ready: make(chan struct{}, 1)}}
}

// State returns the process's current state.
func (r *Reactor) State() State { return State(r.state.Load()) }

// ServiceInfo describes one running service.
type ServiceInfo struct {
	Name, Type string
	Addrs      []net.Addr
	Stats      *service.Stats
	// Failed: the service failed and is not restarted yet; Error is its
	// last failure ("" before any), Failures and Restarts count them.
	Failed             bool
	Error              string
	Failures, Restarts int64
	// Details is what a service.StatusReporter reports (nil otherwise).
	Details any
}

// Services returns the running services in file order (internal ones
// left out). The Stats are live counters.
func (r *Reactor) Services() []ServiceInfo {
	current := r.running()
	out := make([]ServiceInfo, 0, len(current))
	for _, rn := range current {
		if !rn.spec.Internal {
			info := ServiceInfo{Name: rn.spec.Name, Type: rn.spec.Type, Addrs: rn.addrs, Stats: rn.env.Stats}
			info.Failed, info.Error, info.Failures, info.Restarts = rn.health.snapshot()
			if sr, ok := rn.svc.(service.StatusReporter); ok {
				info.Details = sr.Status()
			}
			out = append(out, info)
		}
	}
	return out
}

// running returns the running instances, in file order.
func (r *Reactor) running() []*running {
	children := r.tree.Children()
	out := make([]*running, len(children))
	for i, c := range children {
		out[i] = c.Service.(*running)
	}
	return out
}

// Run binds, starts and serves services until ctx is cancelled or a stop
// signal arrives, then stops them gracefully. It returns nil after a clean
// stop (a drain that hit the shutdown timeout included), ErrForced after a
// second stop signal, and an error naming the service and endpoint when
// something failed to start — in which case nothing is left bound or running.
func (r *Reactor) Run(ctx context.Context, specs []Spec) error {
	in := r.opts.Signals
	if in == nil {
		ch := make(chan os.Signal, 16)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
		defer func() {
			signal.Stop(ch)
			close(ch) // nothing sends on it after Stop: ends newSignals' reader
		}()
		in = ch
	}
	sigs := newSignals(in)

	prepared, err := r.prepare(specs)
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
	if err := r.start(ctx, prepared); err != nil {
		r.pool.Close()
		return err
	}
	r.pool.closeUnadopted()
	r.state.Store(int32(Ready))
	r.log.Info("ready", zap.Int("services", len(r.Services())))
	if h := r.opts.Hooks.Ready; h != nil {
		h()
	}
	return r.serve(ctx, sigs)
}

// prepare binds every service's sockets, logging each real address. On
// failure the sockets bound so far are released.
func (r *Reactor) prepare(specs []Spec) ([]*running, error) {
	var out []*running
	for _, spec := range specs {
		rn, err := r.prepareOne(spec, spec.Service, spec.Listen)
		if err != nil {
			for _, p := range out {
				p.release()
			}
			return nil, err
		}
		out = append(out, rn)
	}
	return out, nil
}

// prepareOne binds the sockets of one instance of spec's service on
// listen (spec.Listen, or that with a predecessor's ports).
func (r *Reactor) prepareOne(spec Spec, svc service.Service, listen []endpoint.Endpoint) (*running, error) {
	log := r.log.Named(spec.Name)
	stats := &service.Stats{}
	accepting := &acceptors{}
	env := &service.Env{Name: spec.Name, Type: spec.Type, Logger: log, Stats: stats, Metrics: r.opts.Metrics.Services, CPUs: r.opts.CPUs,
		Bulk: r.opts.Bulk, HelperEnv: r.opts.HelperEnv}
	env.Runner = runner{r: r, env: env, log: log, stats: stats, servers: accepting}
	rn := &running{spec: spec, svc: svc, env: env, listen: listen, accepting: accepting, health: &health{since: time.Now()}}
	env.OnFail = func(err error) { r.fail(rn, err) }
	for i, ep := range listen {
		l, cert, err := r.listen(OwnerName(spec.Name, i), ep)
		if cert != nil {
			rn.certs = append(rn.certs, cert)
		}
		if err != nil {
			rn.release()
			return nil, fmt.Errorf("%s: service %q: listen %s: %w", spec.Pos, spec.Name, ep, bindError(err))
		}
		var addr net.Addr
		if l.Stream != nil {
			addr = l.Stream.Addr()
		} else {
			addr = l.Packet.LocalAddr()
		}
		rn.addrs = append(rn.addrs, addr)
		log.Info("listening on "+addr.String(), zap.String("endpoint", ep.String()), zap.String("network", addr.Network()))
		env.Listeners = append(env.Listeners, guard(l, spec.Access, log, stats))
	}
	return rn, nil
}

// release gives back the instance's borrowed sockets.
func (rn *running) release() {
	for _, l := range rn.env.Listeners {
		if l.Stream != nil {
			_ = l.Stream.Close()
		}
		if l.Packet != nil {
			_ = l.Packet.Close()
		}
	}
}

// start adds prepared instances to the tree, starting them in order; if
// one fails, the ones started are stopped in reverse, every prepared
// socket is released, and the error names the service's position.
func (r *Reactor) start(ctx context.Context, prepared []*running) error {
	return r.startErr(prepared, r.tree.Start(ctx, children(prepared)))
}

// children returns instances as members of the tree.
func children(rns []*running) []service.Child {
	out := make([]service.Child, len(rns))
	for i, rn := range rns {
		out[i] = rn.child()
	}
	return out
}

// startErr releases the sockets of instances prepared for a start that
// failed with err, and names the failed service's position in it.
func (r *Reactor) startErr(prepared []*running, err error) error {
	if err == nil {
		return nil
	}
	for _, rn := range prepared {
		rn.release()
	}
	var se *service.StartError
	if errors.As(err, &se) {
		for _, rn := range prepared {
			if rn.spec.Name == se.Service {
				return fmt.Errorf("%s: %w", rn.spec.Pos, err)
			}
		}
	}
	return err
}

// takeOverPorts returns listen with the port-0 endpoints asking for the
// ports old got for the same endpoints, so a replacement takes those
// sockets over instead of binding new ones.
func takeOverPorts(listen []endpoint.Endpoint, old *running) []endpoint.Endpoint {
	listen = append([]endpoint.Endpoint(nil), listen...)
	for i, ep := range listen {
		if ep.Port != 0 {
			continue
		}
		for j, oep := range old.spec.Listen {
			if oep == ep && j < len(old.addrs) {
				switch a := old.addrs[j].(type) {
				case *net.TCPAddr:
					listen[i].Port = a.Port
				case *net.UDPAddr:
					listen[i].Port = a.Port
				}
			}
		}
	}
	return listen
}

// Apply moves the running set to specs (a reload): services whose name,
// type and fingerprint are unchanged keep running untouched and re-read
// their data files; new and changed ones start — taking over the sockets
// of the ones they replace, so no connection is refused — and removed and
// replaced ones then stop gracefully in the background. If anything fails
// to bind or start, the running set is left exactly as it was.
func (r *Reactor) Apply(ctx context.Context, specs []Spec) error {
	began := time.Now()
	byName := make(map[string]*running)
	for _, rn := range r.running() {
		byName[rn.spec.Name] = rn
	}
	var next, fresh, kept []*running
	for _, spec := range specs {
		o := byName[spec.Name]
		if o != nil && o.spec.Type == spec.Type && o.spec.Fingerprint == spec.Fingerprint {
			next = append(next, o)
			kept = append(kept, o)
			continue
		}
		listen := spec.Listen
		if o != nil {
			listen = takeOverPorts(listen, o)
		}
		rn, err := r.prepareOne(spec, spec.Service, listen)
		if err != nil {
			for _, p := range fresh {
				p.release()
			}
			return err
		}
		if s, ok := spec.Service.(service.Successor); ok && o != nil && o.spec.Type == spec.Type {
			s.Succeed(o.svc)
		}
		next = append(next, rn)
		fresh = append(fresh, rn)
	}
	gone, err := r.tree.Replace(ctx, children(next))
	if err := r.startErr(fresh, err); err != nil {
		return err
	}
	for _, rn := range kept {
		if rn.stopped {
			continue // a failed instance awaiting its restart has nothing to re-read
		}
		for _, c := range rn.certs {
			if err := c.Reload(); err != nil {
				rn.env.Logger.Error("re-reading a certificate failed; serving the previous one", zap.Error(err))
			}
		}
		if rl, ok := rn.svc.(service.Reloader); ok {
			if err := rl.Reload(ctx); err != nil {
				rn.env.Logger.Error("re-reading data files failed; serving the previous data", zap.Error(err))
			}
		}
	}
	r.draining.Add(1)
	go func() {
		defer r.draining.Done()
		ctx, cancel := context.WithTimeout(context.Background(), r.opts.ShutdownTimeout)
		defer cancel()
		_ = service.StopAll(ctx, gone)
	}()
	r.log.Info("reload applied", zap.Int("kept", len(kept)), zap.Int("started", len(fresh)), zap.Int("stopped", len(gone)),
		zap.Duration("took", time.Since(began)))
	return nil
}

// listen borrows ep's socket; for an ssl endpoint it also loads the key
// pair (before privileges drop), which the instance keeps to re-read on reload.
func (r *Reactor) listen(owner string, ep endpoint.Endpoint) (service.Listener, *certificate, error) {
	if ep.HAProxy && !ep.IsStream() {
		return service.Listener{}, nil, errors.New("PROXY protocol needs a stream endpoint")
	}
	var cert *certificate
	if ep.Kind == endpoint.SSL {
		var err error
		if cert, err = loadCertificate(ep); err != nil {
			return service.Listener{}, nil, err
		}
	}
	ln, pc, err := r.pool.AcquireAs(owner, ep)
	if err != nil {
		return service.Listener{}, nil, err
	}
	l := service.Listener{Endpoint: ep, Stream: ln, Packet: pc, ProxyProtocol: ep.HAProxy}
	if cert != nil {
		l.TLS = cert.config()
	}
	return l, cert, nil
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

// serve waits for signals until a stop, then drains. Signals are taken
// most urgent first, so a stop that arrived during a slow reload is the
// next thing done, ahead of the reloads queued behind it.
func (r *Reactor) serve(ctx context.Context, sigs *signals) error {
	for {
		select {
		case <-ctx.Done():
			return r.stop("context cancelled", "", sigs)
		case <-r.events.ready:
			for _, ev := range r.events.take() {
				if !ev.exit {
					r.restart(ctx, ev.rn)
					continue
				}
				if r.isCurrent(ev.rn) {
					_, text, _, _ := ev.rn.health.snapshot()
					if err := r.stop("", ev.rn.spec.Name, sigs); err != nil {
						return err
					}
					return fmt.Errorf("%w: %s: service %q: %s", ErrServiceFailed, ev.rn.spec.Pos, ev.rn.spec.Name, text)
				}
			}
			continue
		case <-sigs.pending:
		}
		for {
			sig, ok := sigs.next()
			if !ok {
				break
			}
			if isStop(sig) {
				return r.stop(signalName(sig), "", sigs)
			}
			if r.handle(ctx, sig) {
				return r.stop("SIGUSR2 (upgraded)", "", sigs)
			}
		}
	}
}

// handle acts on a reload, upgrade or reopen signal; true means a
// successor took over and this process is to stop.
func (r *Reactor) handle(ctx context.Context, sig os.Signal) bool {
	switch sig {
	case syscall.SIGUSR2:
		r.log.Info("received signal; upgrading", zap.String("signal", "SIGUSR2"))
		if h := r.opts.Hooks.Upgrade; h != nil {
			return h(ctx)
		}
		r.log.Warn("upgrade is not available here")
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
		for _, rn := range r.running() {
			if ro, ok := rn.svc.(service.Reopener); ok {
				if err := ro.Reopen(); err != nil {
					rn.env.Logger.Error("reopening logs failed", zap.Error(err))
				}
			}
		}
	}
	return false
}

// stop runs the graceful stop: report not-ready, wait out the shutdown
// delay, then stop services in reverse within the shutdown timeout. A
// second stop signal at any point forces an immediate exit.
// why is the signal's name or "context cancelled"; for a service that
// failed (on_failure: exit), failed is its name.
func (r *Reactor) stop(why, failed string, sigs *signals) error {
	// Not ready first: whoever reads the log line finds /readyz at 503.
	r.state.Store(int32(Stopping))
	if failed != "" {
		r.log.Info("a service failed; stopping", zap.String("failed", failed),
			zap.Duration("shutdown_timeout", r.opts.ShutdownTimeout))
	} else {
		r.log.Info("received signal; stopping", zap.String("signal", why),
			zap.Duration("shutdown_timeout", r.opts.ShutdownTimeout))
	}
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
			case <-sigs.pending:
				if s, ok := sigs.nextStop(); ok {
					return r.force(s)
				}
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.ShutdownTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		err := r.tree.Stop(ctx)
		r.draining.Wait()
		done <- err
	}()
	for {
		select {
		case err := <-done:
			if err != nil {
				r.log.Warn("services did not all stop cleanly", zap.Error(err))
			}
			r.pool.Close()
			r.closeDialed(ctx)
			r.stopLoops()
			r.log.Info("shutdown complete")
			return nil
		case <-sigs.pending:
			if s, ok := sigs.nextStop(); ok {
				return r.force(s)
			}
		}
	}
}

// isCurrent reports whether rn is in the running set.
func (r *Reactor) isCurrent(rn *running) bool {
	for _, c := range r.running() {
		if c == rn {
			return true
		}
	}
	return false
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
	case syscall.SIGUSR2:
		return "SIGUSR2"
	}
	return s.String()
}

// runner is the service.Runner of one service: its loops log as the
// service and count into its stats, and it keeps the accept loops it made
// so the reactor can stop them before it stops the service.
type runner struct {
	r       *Reactor
	env     *service.Env // its Fail reports a loop's dead socket
	log     *zap.Logger
	stats   *service.Stats
	servers *acceptors
}

// acceptor is a server whose accepting can stop ahead of its drain.
type acceptor interface{ stopAccepting() }

// eventServer is a server on the event loops (see serveEvented).
type eventServer interface {
	service.Server
	acceptor
}

// acceptors are the accept loops of one service.
type acceptors struct {
	mu   sync.Mutex
	list []acceptor
}

func (a *acceptors) add(s acceptor) {
	a.mu.Lock()
	a.list = append(a.list, s)
	a.mu.Unlock()
}

// stopAccepting stops every accept loop of the service: connections that
// arrive from now on go to the service replacing it (same socket) or wait
// in the backlog, never to a service that is stopping.
func (a *acceptors) stopAccepting() {
	a.mu.Lock()
	list := a.list
	a.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range list {
		wg.Go(s.stopAccepting)
	}
	wg.Wait()
}

// ServeStream runs f on l's connections: on the event loops under the
// epoll reactor when the socket is plain TCP or unix, else with a
// goroutine pair per connection (TLS needs one: crypto/tls reads and
// writes blocking). Either way the driver reads the PROXY header and does
// the TLS handshake before f builds a protocol, so every service gets
// every endpoint kind the same way.
func (r runner) ServeStream(l service.Listener, f protocol.Factory) service.Server {
	if l.TLS == nil && r.r.reactor == Epoll {
		s, err := r.r.serveEvented(l, f, r.log, r.stats, r.env.Fail)
		if s != nil {
			r.servers.add(s)
			return s
		}
		if err != nil {
			r.log.Warn("event loops unavailable; serving with a goroutine per connection", zap.Error(err))
		}
	}
	s := newStreamServer(l, f, r.log, r.stats, r.env.Fail)
	r.servers.add(s)
	return s
}

func (r runner) ServePacket(l service.Listener, p protocol.DatagramProtocol) service.Server {
	return newPacketServer(l, p, r.log, r.stats, r.env.Fail)
}
