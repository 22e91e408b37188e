package exec

import (
	"context"
	"os"
	osexec "os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/twistd-go/twistd/service"
)

// settings are Twisted's four.
type settings struct {
	threshold, killTime, minDelay, maxDelay time.Duration
}

// process is one process as configured.
type process struct {
	name        string
	path        string
	args        []string
	env         map[string]string
	dir         string
	as          Identity
	fingerprint string
}

// monitor is the procmon service.
type monitor struct {
	set   settings
	procs []process

	log      *zap.Logger
	name     string
	restarts func(name string) func()
	forget   func(name string) // deletes a process's series
	cred     map[string]*syscall.Credential

	mu      sync.Mutex
	running map[string]*child // by name
	pred    *monitor          // the instance this one replaces
	heir    *monitor          // the instance that takes over kept processes
	stopped bool
}

func newMonitor(set settings, procs []process) *monitor {
	return &monitor{set: set, procs: procs, running: map[string]*child{}}
}

// Succeed implements service.Successor: unchanged processes of pred are
// taken over when pred stops, not restarted.
func (m *monitor) Succeed(pred service.Service) {
	if p, ok := pred.(*monitor); ok {
		m.pred = p
	}
}

// Start starts every process but those a predecessor is to hand over.
func (m *monitor) Start(_ context.Context, env *service.Env) error {
	m.log, m.name = env.Logger, env.Name
	vec := env.Metrics.Counter(prometheus.CounterOpts{Name: "twistd_process_restarts_total",
		Help: "Restarts of processes a procmon service supervises, by service and process."}, "service", "process")
	m.restarts = func(p string) func() { return vec.WithLabelValues(env.Name, p).Inc }
	m.forget = func(p string) { vec.DeleteLabelValues(env.Name, p) }
	m.cred = map[string]*syscall.Credential{}
	for _, p := range m.procs {
		cred, err := p.as.Credential()
		if err != nil {
			return err
		}
		if cred != nil && os.Geteuid() != 0 {
			env.Logger.Warn("not running as root: the process runs as twistd's own user", zap.String("process", p.name),
				zap.String("user", p.as.User), zap.String("group", p.as.Group))
			cred = nil
		}
		m.cred[p.name] = cred
	}
	CloseInherited()
	kept := map[string]bool{}
	if m.pred != nil {
		kept = m.pred.bequeath(m)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.procs {
		if !kept[p.name] {
			m.running[p.name] = m.spawn(p, m.set.minDelay)
		}
	}
	return nil
}

// bequeath names heir the successor and returns the names of the
// processes it will hand over on Stop: those whose settings are the same.
func (m *monitor) bequeath(heir *monitor) map[string]bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	kept := map[string]bool{}
	if m.stopped {
		return kept
	}
	for _, p := range heir.procs {
		if c := m.running[p.name]; c != nil && c.proc.fingerprint == p.fingerprint {
			kept[p.name] = true
		}
	}
	m.heir = heir
	return kept
}

// adopt takes over a running child from the predecessor.
func (m *monitor) adopt(c *child) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		go c.stop(m.set.killTime)
		return
	}
	c.mon.Store(m)
	m.running[c.proc.name] = c
}

// Stop stops the processes (TERM, KILL after kill_time), handing those
// the successor keeps over to it instead.
func (m *monitor) Stop(ctx context.Context) error {
	m.mu.Lock()
	m.stopped = true
	heir := m.heir
	running := m.running
	m.running = map[string]*child{}
	pred := m.pred
	m.mu.Unlock()
	if pred != nil {
		pred.disown(m)
	}
	var wg sync.WaitGroup
	for _, c := range running {
		if heir != nil && heir.wants(c.proc) {
			heir.adopt(c)
			continue
		}
		kill := m.set.killTime
		if d, ok := ctx.Deadline(); ok && time.Until(d) < kill {
			kill = max(time.Until(d), 0)
		}
		wg.Go(func() { c.stop(kill) })
	}
	wg.Wait()
	m.forgetGone(pred, heir)
	return nil
}

// forgetGone deletes the restart series of this instance's processes that
// no other instance supervises: those the successor (a reload) dropped, or
// all of them when the service is gone. A predecessor still serving (a
// failed reload) keeps the series of its own processes.
func (m *monitor) forgetGone(pred, heir *monitor) {
	if m.forget == nil {
		return // never started
	}
	kept := map[string]bool{}
	if heir != nil {
		for _, p := range heir.procs {
			kept[p.name] = true
		}
	}
	if pred != nil {
		pred.mu.Lock()
		if !pred.stopped {
			for _, p := range pred.procs {
				kept[p.name] = true
			}
		}
		pred.mu.Unlock()
	}
	for _, p := range m.procs {
		if !kept[p.name] {
			m.forget(p.name)
		}
	}
}

// disown forgets a successor that was stopped (a failed reload): the
// processes stay here.
func (m *monitor) disown(heir *monitor) {
	m.mu.Lock()
	if m.heir == heir {
		m.heir = nil
	}
	m.mu.Unlock()
}

// wants reports whether m runs p unchanged.
func (m *monitor) wants(p process) bool {
	for _, q := range m.procs {
		if q.name == p.name {
			return q.fingerprint == p.fingerprint
		}
	}
	return false
}

// Status implements service.StatusReporter.
func (m *monitor) Status() any {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []ProcessStatus{}
	for _, p := range m.procs {
		if c := m.running[p.name]; c != nil {
			out = append(out, c.status())
		} else if m.stopped {
			out = append(out, ProcessStatus{Name: p.name, State: "stopped"})
		} else {
			out = append(out, ProcessStatus{Name: p.name, State: "starting"})
		}
	}
	return map[string]any{"processes": out}
}

// ProcessStatus is one process in /status.
type ProcessStatus struct {
	Name          string  `json:"name"`
	PID           int     `json:"pid"`
	State         string  `json:"state"` // running, backoff, stopping, stopped
	UptimeSeconds float64 `json:"uptime_seconds"`
	Restarts      int64   `json:"restarts"`
	LastExit      string  `json:"last_exit"`
}

// child is one supervised process across its restarts.
type child struct {
	proc process
	mon  atomic.Pointer[monitor] // whose settings and logger apply now
	log  *zap.Logger
	// lines bounds what its output logs, across restarts.
	lines LineLimit

	quit chan struct{} // closed to stop
	done chan struct{} // closed once the last run is reaped

	mu       sync.Mutex
	state    string
	pid      int
	began    time.Time
	restarts int64
	lastExit string
	cmd      *osexec.Cmd   // the run in progress, nil between runs
	reaped   chan struct{} // closed once that run is reaped
}

// spawn starts supervising p; m.mu is held.
func (m *monitor) spawn(p process, delay time.Duration) *child {
	c := &child{proc: p, quit: make(chan struct{}), done: make(chan struct{}), state: "starting",
		log: zap.New(m.log.Core()).Named(m.name + "/" + p.name)}
	c.mon.Store(m)
	go c.supervise(delay)
	return c
}

// supervise runs the process until told to quit, restarting it as
// Twisted's procmon does: one that ran less than threshold waits the
// current delay, which then doubles up to the maximum; one that ran
// longer is started again at once and its delay goes back to the minimum.
func (c *child) supervise(delay time.Duration) {
	defer close(c.done)
	for first := true; ; first = false {
		m := c.mon.Load()
		if !first {
			c.mu.Lock()
			c.restarts++
			c.mu.Unlock()
			m.restarts(c.proc.name)()
		}
		began := time.Now()
		exited, err := c.run(m)
		var status string
		if err != nil {
			status = err.Error()
			c.log.Error("cannot start the process", zap.Error(err))
		} else {
			select {
			case status = <-exited:
			case <-c.quit:
				return // stop already reaped it
			}
		}
		ran := time.Since(began)
		m = c.mon.Load()
		next := time.Duration(0)
		if ran < m.set.threshold {
			next = delay
			delay = min(delay*2, m.set.maxDelay)
		} else {
			delay = m.set.minDelay
		}
		c.mu.Lock()
		c.state, c.pid, c.lastExit = "backoff", 0, status
		c.mu.Unlock()
		c.log.Warn("process ended; restarting", zap.String("status", status), zap.Duration("ran", ran.Round(time.Millisecond)),
			zap.Duration("restart_in", next))
		t := time.NewTimer(next)
		select {
		case <-t.C:
		case <-c.quit:
			t.Stop()
			c.mu.Lock()
			c.state = "stopped"
			c.mu.Unlock()
			return
		}
	}
}

// run starts the process once; exited gives its status once it is reaped.
func (c *child) run(m *monitor) (<-chan string, error) {
	p := c.proc
	cmd := Command(p.path, p.args, Environ(p.env), p.dir, m.cred[p.name])
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	c.mu.Lock()
	select {
	case <-c.quit:
		c.mu.Unlock()
		outR.Close()
		outW.Close()
		errR.Close()
		errW.Close()
		ch := make(chan string)
		return ch, nil
	default:
	}
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		c.mu.Unlock()
		outR.Close()
		errR.Close()
		return nil, err
	}
	c.state, c.pid, c.began = "running", cmd.Process.Pid, time.Now()
	c.cmd, c.reaped = cmd, make(chan struct{})
	reaped := c.reaped
	c.mu.Unlock()
	pid := cmd.Process.Pid
	c.log.Info("process started", zap.Int("pid", pid))
	var logs sync.WaitGroup
	logs.Go(func() { LogLines(outR, &c.lines, c.log.Info, zap.Int("pid", pid), zap.String("stream", "stdout")) })
	logs.Go(func() { LogLines(errR, &c.lines, c.log.Info, zap.Int("pid", pid), zap.String("stream", "stderr")) })
	exited := make(chan string, 1)
	go func() {
		err := cmd.Wait()
		// A grandchild may hold the pipes: give the output a moment, then
		// stop reading.
		logged := make(chan struct{})
		go func() { logs.Wait(); close(logged) }()
		select {
		case <-logged:
		case <-time.After(100 * time.Millisecond):
		}
		outR.Close()
		errR.Close()
		c.mu.Lock()
		c.cmd = nil
		close(reaped)
		c.mu.Unlock()
		exited <- ExitStatus(err)
	}()
	return exited, nil
}

// stop ends supervision: TERM to the process, KILL after kill, and
// returns once it is reaped.
func (c *child) stop(kill time.Duration) {
	c.mu.Lock()
	select {
	case <-c.quit:
		c.mu.Unlock()
		<-c.done
		return
	default:
	}
	close(c.quit)
	cmd, reaped := c.cmd, c.reaped
	if cmd != nil {
		c.state = "stopping"
	}
	c.mu.Unlock()
	if cmd != nil {
		Signal(cmd.Process, syscall.SIGTERM)
		t := time.NewTimer(kill)
		select {
		case <-reaped:
			t.Stop()
		case <-t.C:
			c.log.Warn("process still running after kill_time; killing it", zap.Int("pid", cmd.Process.Pid), zap.Duration("kill_time", kill))
			Signal(cmd.Process, syscall.SIGKILL)
			<-reaped
		}
		c.log.Info("process stopped", zap.Int("pid", cmd.Process.Pid))
	}
	<-c.done
	c.mu.Lock()
	c.state = "stopped"
	c.mu.Unlock()
}

func (c *child) status() ProcessStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := ProcessStatus{Name: c.proc.name, PID: c.pid, State: c.state, Restarts: c.restarts, LastExit: c.lastExit}
	if c.state == "running" {
		st.UptimeSeconds = time.Since(c.began).Seconds()
	}
	return st
}

var (
	_ service.Service        = (*monitor)(nil)
	_ service.Successor      = (*monitor)(nil)
	_ service.StatusReporter = (*monitor)(nil)
)
