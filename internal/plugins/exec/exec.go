package exec

import (
	"bufio"
	"context"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/twistd-go/twistd/metrics"
	"github.com/twistd-go/twistd/policy"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// reapWait bounds the wait for programs to be reaped after SIGKILL (one
// stuck in the kernel cannot hold the stop up for ever).
const reapWait = 5 * time.Second

// Program is what an exec service runs for each connection.
type Program struct {
	// Path is the resolved program, Args its argv (Args[0] as written).
	Path string
	Args []string
	// Env is added to the TCP* variables; PATH defaults to DefaultPath.
	Env map[string]string
	// Dir is the working directory ("" keeps twistd's).
	Dir string
	// As is whom it runs as when twistd is root.
	As Identity
}

// server is the exec service: a factory that refuses beyond max
// instances, and a protocol that hands the socket to a new program.
type server struct {
	service.Protocols
	prog     Program
	max      int
	policies policy.Config

	log     *zap.Logger
	lines   LineLimit // stderr lines of all its programs
	stats   *service.Stats
	refused *policy.Refusals
	cred    *syscall.Credential
	env     []string  // the programs' environment beyond TCP*
	bufs    sync.Pool // *bufio.Reader for the stderr readers
	metrics *execMetrics

	// pred is the instance this one replaces on a reload (set before
	// Start), heir the one replacing this one: while either serves, the
	// service's series stay in /metrics.
	pred *server
	heir atomic.Pointer[server]
	done atomic.Bool // stopped, its programs reaped

	mu       sync.Mutex
	slots    int              // reserved: running programs and ones being started
	children map[int]struct{} // pids not yet reaped
	stopping bool
	reaped   sync.WaitGroup
}

// New returns an exec service running prog for each connection, at most
// max at a time, under policies.
func New(prog Program, max int, policies policy.Config) service.Service {
	return &server{prog: prog, max: max, policies: policies, children: map[int]struct{}{}}
}

// Start serves the listeners with the program-per-connection factory.
func (s *server) Start(ctx context.Context, env *service.Env) error {
	s.log, s.stats = env.Logger, env.Stats
	s.refused = policy.NewRefusals(env.Logger, env.Stats)
	cred, err := s.prog.As.Credential()
	if err != nil {
		return err
	}
	if cred != nil && os.Geteuid() != 0 {
		env.Logger.Warn("not running as root: programs run as twistd's own user, not the configured one",
			zap.String("user", s.prog.As.User), zap.String("group", s.prog.As.Group))
		cred = nil
	}
	s.cred = cred
	s.env = Environ(s.prog.Env)
	s.metrics = newExecMetrics(env.Metrics, env.Name)
	CloseInherited()
	s.Protocols.Stream = protocol.FactoryFunc(s.build)
	s.Protocols.Policies = &s.policies
	return s.Protocols.Start(ctx, env)
}

// build reserves an instance for the connection, or refuses it.
func (s *server) build(peer net.Addr) protocol.Protocol {
	s.mu.Lock()
	if s.stopping || s.slots >= s.max {
		stopping := s.stopping
		s.mu.Unlock()
		if !stopping {
			s.refused.Refuse(zapcore.InfoLevel, "connection refused", "max_instances", peer, zap.Int("max_instances", s.max))
		}
		return nil
	}
	s.slots++
	s.mu.Unlock()
	return &conn{s: s}
}

func (s *server) release() {
	s.mu.Lock()
	s.slots--
	s.mu.Unlock()
}

// conn is one connection, for as long as the reactor has it: until its
// socket is handed to the program.
type conn struct {
	s     *server
	spawn bool // the slot passed to a program
}

func (c *conn) ConnectionMade(t protocol.Transport) {
	s := c.s
	d, ok := t.(protocol.Detacher)
	if !ok {
		s.log.Error("this transport cannot hand its socket to a program; connection closed", zap.Stringer("peer", t.PeerAddr()))
		t.Abort()
		return
	}
	peer, host := t.PeerAddr(), t.HostAddr()
	f, err := d.Detach()
	if err != nil {
		s.log.Warn("cannot hand the connection to a program; closed", zap.Stringer("peer", peer), zap.Error(err))
		t.Abort()
		return
	}
	c.spawn = true
	go s.run(f, peer, host)
}

func (c *conn) DataReceived([]byte) {}

func (c *conn) ConnectionLost(error) {
	if !c.spawn {
		c.s.release()
	}
}

// run starts the program on the socket f and reaps it.
func (s *server) run(f *os.File, peer, host net.Addr) {
	defer s.release()
	pr, pw, err := stderrPipe()
	if err != nil {
		f.Close()
		s.metrics.failed()
		s.log.Error("cannot start the program", zap.Stringer("peer", peer), zap.Error(err))
		return
	}
	env := append(tcpEnv(peer, host), s.env...)
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		f.Close()
		pr.Close()
		syscall.Close(pw)
		return
	}
	// Started under the lock, so Stop sees every child it must signal.
	c, err := spawn(s.prog.Path, s.prog.Args, env, s.prog.Dir, []uintptr{f.Fd(), f.Fd(), uintptr(pw)}, s.cred)
	if err == nil {
		s.children[c.pid] = struct{}{}
		s.reaped.Add(1)
	}
	s.mu.Unlock()
	f.Close()
	syscall.Close(pw)
	if err != nil {
		pr.Close()
		s.metrics.failed()
		s.log.Error("cannot start the program", zap.String("program", s.prog.Path), zap.Stringer("peer", peer), zap.Error(err))
		return
	}
	defer s.reaped.Done()
	pid := c.pid
	s.metrics.started()
	s.metrics.running(1)
	s.stats.ConnectionsActive.Add(1)
	s.log.Debug("program started", zap.Int("pid", pid), zap.Stringer("peer", peer))
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		br, _ := s.bufs.Get().(*bufio.Reader)
		if br == nil {
			br = bufio.NewReaderSize(pr, maxLine)
		} else {
			br.Reset(pr)
		}
		logLines(br, &s.lines, s.log.Info, zap.Int("pid", pid), zap.String("stream", "stderr"))
		pr.Close()
		br.Reset(nil)
		s.bufs.Put(br)
	}()
	// Reaped under the lock, so Stop never signals a pid since reused.
	ws, err := c.wait(func() (syscall.WaitStatus, bool, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		ws, done, err := c.tryReap()
		if done || err != nil {
			delete(s.children, pid)
		}
		return ws, done, err
	})
	// A grandchild may keep stderr open: stop reading once the program
	// is gone and what it wrote has had a moment to arrive.
	select {
	case <-logged:
	default:
		_ = pr.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		select {
		case <-logged:
		case <-time.After(time.Second):
			// A pipe outside the poller has no deadlines.
			pr.Close()
			<-logged
		}
	}
	s.metrics.running(-1)
	s.stats.ConnectionsActive.Add(-1)
	if err != nil {
		s.log.Warn("program failed", zap.Int("pid", pid), zap.Error(err))
	} else {
		s.log.Debug("program ended", zap.Int("pid", pid), zap.String("status", waitStatus(ws)))
	}
}

// tcpEnv is ucspi-tcp's description of the connection.
func tcpEnv(peer, host net.Addr) []string {
	var env []string
	if a, ok := peer.(*net.TCPAddr); ok {
		env = append(env, "TCPREMOTEIP="+a.IP.String(), "TCPREMOTEPORT="+strconv.Itoa(a.Port))
	}
	if a, ok := host.(*net.TCPAddr); ok {
		env = append(env, "TCPLOCALIP="+a.IP.String(), "TCPLOCALPORT="+strconv.Itoa(a.Port))
	}
	return env
}

// Succeed implements service.Successor: the instance a reload replaces
// keeps the service's series when it stops, for this one counts on in them.
func (s *server) Succeed(pred service.Service) {
	if p, ok := pred.(*server); ok {
		s.pred = p
		p.heir.Store(s)
	}
}

// Stop stops accepting, sends TERM to every program, and KILL to those
// still running when ctx ends; it returns once all are reaped. The last
// instance of a service (one a reload removed or renamed) then takes the
// service's series out of /metrics.
func (s *server) Stop(ctx context.Context) error {
	err := s.stop(ctx)
	s.done.Store(true)
	if p := s.pred; p != nil && !p.done.Load() {
		// A reload that failed: the predecessor serves on, the last
		// instance again.
		p.heir.CompareAndSwap(s, nil)
		return err
	}
	if s.heir.Load() == nil && s.metrics != nil {
		s.metrics.remove()
	}
	return err
}

func (s *server) stop(ctx context.Context) error {
	err := s.Protocols.Stop(ctx)
	s.mu.Lock()
	s.stopping = true
	for p := range s.children {
		signalGroup(p, syscall.SIGTERM)
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.reaped.Wait()
		close(done)
	}()
	select {
	case <-done:
		return err
	case <-ctx.Done():
	}
	s.mu.Lock()
	n := len(s.children)
	for p := range s.children {
		signalGroup(p, syscall.SIGKILL)
	}
	s.mu.Unlock()
	if n > 0 {
		s.log.Warn("programs still running at the shutdown timeout; killed", zap.Int("programs", n))
	}
	select {
	case <-done:
	case <-time.After(reapWait):
		s.log.Error("programs not reaped after SIGKILL", zap.Duration("waited", reapWait))
	}
	return ctx.Err()
}

var (
	_ service.Service   = (*server)(nil)
	_ service.Successor = (*server)(nil)
)

// execMetrics are an exec service's series: twistd_exec_started_total,
// twistd_exec_running and twistd_exec_failed_total. Each use looks its
// series up, so one a stopped instance removed is made afresh by a later
// instance of the same name.
type execMetrics struct {
	name                  string
	startedVec, failedVec *prometheus.CounterVec
	runningVec            *prometheus.GaugeVec
	gone                  atomic.Bool // removed: a program reaped late counts nowhere
}

func newExecMetrics(m *metrics.Registry, name string) *execMetrics {
	return &execMetrics{name: name,
		startedVec: m.Counter(prometheus.CounterOpts{Name: "twistd_exec_started_total",
			Help: "Programs an exec service started, one per connection, by service."}, "service"),
		runningVec: m.Gauge(prometheus.GaugeOpts{Name: "twistd_exec_running",
			Help: "Programs of an exec service running now, by service."}, "service"),
		failedVec: m.Counter(prometheus.CounterOpts{Name: "twistd_exec_failed_total",
			Help: "Connections of an exec service whose program could not be started, by service."}, "service"),
	}
}

func (m *execMetrics) started() {
	if !m.gone.Load() {
		m.startedVec.WithLabelValues(m.name).Inc()
	}
}

func (m *execMetrics) failed() {
	if !m.gone.Load() {
		m.failedVec.WithLabelValues(m.name).Inc()
	}
}

func (m *execMetrics) running(d float64) {
	if !m.gone.Load() {
		m.runningVec.WithLabelValues(m.name).Add(d)
	}
}

// remove deletes the service's series, unless programs still run: another
// instance's of its name (one a restart after a failure started), or its
// own that outlived the stop (stuck in the kernel), which keep counting.
func (m *execMetrics) remove() {
	var now dto.Metric
	if err := m.runningVec.WithLabelValues(m.name).Write(&now); err == nil && now.GetGauge().GetValue() != 0 {
		return
	}
	m.gone.Store(true)
	m.startedVec.DeleteLabelValues(m.name)
	m.runningVec.DeleteLabelValues(m.name)
	m.failedVec.DeleteLabelValues(m.name)
}
