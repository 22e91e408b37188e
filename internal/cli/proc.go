package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"github.com/spf13/viper"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/twistd-go/twistd/internal/admin"
	"github.com/twistd-go/twistd/internal/config"
	"github.com/twistd-go/twistd/internal/logging"
	"github.com/twistd-go/twistd/internal/metrics"
	"github.com/twistd-go/twistd/internal/process"
	"github.com/twistd-go/twistd/internal/reactor"
	"github.com/twistd-go/twistd/service"
)

// proc is the running process: its settings, logger, metrics and reactor,
// and what the admin endpoint reports.
type proc struct {
	// ctx ends the application (a drain, as SIGTERM) when cancelled.
	ctx     context.Context
	v       *viper.Viper
	s       *settings
	notify  *process.Notifier
	load    loader
	metrics *metrics.Metrics
	began   time.Time

	logger  *logging.Logger
	log     *zap.Logger
	pidfile *process.Pidfile
	// state is the file beside the pidfile that twistd stop and twistd
	// reload read (nil without a pidfile); daemon is what it says.
	state  *process.StateFile
	daemon process.DaemonState
	r      *reactor.Reactor
	// watch is --watch's watcher; nil without it.
	watch        *watcher
	watchStarted bool

	// logs is what services opened their own logs through, started by
	// startOpener when the process switches users or chroots.
	logs *process.Opener
	// up is what an upgrade (SIGUSR2) needs, found at start.
	up upgrader

	mu         sync.Mutex
	file       *config.File
	lastReload *admin.Reload
	reloads    int
	// recent are the last reloads, newest first; series is the admin
	// endpoint's time series, kept across reloads.
	recent []admin.Reload
	series *admin.Series
}

func newProc(ctx context.Context, v *viper.Viper, s *settings, file *config.File, notify *process.Notifier, load loader) *proc {
	p := &proc{ctx: ctx, v: v, s: s, file: file, notify: notify, load: load, metrics: metrics.New(version), began: time.Now(),
		up: newUpgrader()}
	p.series = admin.NewSeries(admin.SeriesOptions{Sample: p.samples, Step: seriesStep()})
	return p
}

// serve is the running process, in twistd's order: umask and rundir,
// pidfile, logs, bind, chroot and credentials, start, ready.
func (p *proc) serve(specs []reactor.Spec) error {
	s := p.s
	// A reader of our standard output that went away (`twistd -n | head`)
	// must cost log lines, not the process: ignored, SIGPIPE turns into
	// EPIPE on every descriptor, 1 and 2 included, which Go would
	// otherwise answer by dying of the signal (as nginx, we ignore it).
	signal.Ignore(syscall.SIGPIPE)
	startDump, stopDump := dumpOnSIGQUIT()
	defer stopDump()
	if s.umask >= 0 {
		syscall.Umask(s.umask)
	}
	if err := os.Chdir(s.rundir); err != nil {
		return fmt.Errorf("rundir: %w", err)
	}
	// Before the pidfile, so that it closes after the pidfile is removed.
	opener, err := p.startOpener()
	if err != nil {
		return err
	}
	var logOpener logging.Opener
	if opener != nil {
		defer opener.Close()
		logOpener = opener
	}
	stale := 0
	if s.pidfile != "" {
		var err error
		if p.pidfile, stale, err = process.AcquirePidfile(s.pidfile); err != nil {
			return err
		}
		defer p.pidfile.Release()
		// Opened now, before chroot and credentials, and written through
		// the open descriptor: it works whatever they take away.
		if p.state, err = process.CreateState(p.pidfile.Path()); err != nil {
			return err
		}
		defer p.state.Remove()
		if opener != nil {
			if err := p.pidfile.RemoveThrough(opener); err != nil {
				return err
			}
			if err := p.state.RemoveThrough(opener); err != nil {
				return err
			}
		}
		p.daemon.PID = os.Getpid()
		if err := p.state.Write(p.daemon); err != nil {
			return err
		}
	}
	// Before the chroot hides /etc/passwd.
	creds, err := process.LookupCredentials(s.uid, s.gid)
	if err != nil {
		return err
	}
	if err := s.checkRotation(creds); err != nil {
		return err
	}
	logger, err := logging.New(logging.Options{File: s.logfile, Format: s.logFormat, Level: s.logLevel,
		Syslog: s.syslog, Prefix: s.prefix, MaxSizeMiB: s.logMaxSizeMiB, MaxBackups: s.logMaxBackups,
		Stdio: !s.nodaemon, WriteErrors: p.metrics.LogWriteErrors, Owner: logOwner(creds), Opener: logOpener})
	if err != nil {
		return err
	}
	defer logger.Close()
	p.logger, p.log = logger, logger.Logger
	startDump(p.log)

	p.log.Info("twistd starting", zap.String("version", version), zap.Int("pid", os.Getpid()),
		zap.String("file", p.file.Path), zap.String("app", p.file.Name))
	if stale != 0 {
		p.log.Warn("removed stale pidfile", zap.String("file", s.pidfile), zap.Int("pid", stale))
	}
	for _, w := range chrootWarnings(p.file, s.chroot) {
		p.log.Warn("outside the chroot", zap.String("warning", w))
	}

	if s.watch {
		if p.watch, err = newWatcher(p.log, s.chroot); err != nil {
			return fmt.Errorf("--watch: %w", err)
		}
		defer p.watch.close()
		if s.chroot == "" {
			p.watchRefresh(time.Time{})
		}
	}
	tuneRuntime(cmp.Or(s.reactor, reactor.DefaultReactor()))
	p.r = reactor.New(reactor.Options{
		Logger:          p.log,
		Metrics:         p.metrics,
		ShutdownTimeout: s.shutdownTimeout,
		ShutdownDelay:   s.shutdownDelay,
		Reactor:         s.reactor,
		CPUs:            cpus(),
		Bulk:            newBulkGC().start,
		HelperEnv:       helperEnv(),
		Signals:         p.watchSignals(),
		Hooks: reactor.Hooks{
			Bound: func() error {
				if opener != nil {
					if err := opener.Seal(); err != nil {
						return err
					}
				}
				return process.Confine(s.chroot, creds.Needed())
			},
			Ready: func() {
				p.notify.Ready()
				if !p.up.successor { // the predecessor moves MAINPID here
					p.sdNotify("READY=1\nSTATUS=" + p.statusLine())
				}
				p.watchReady()
				// Once serving, not before: start-up's garbage and
				// the code it ran once go back to the system without
				// delaying the sockets or the readiness report.
				returnMemory()
			},
			Stopping: func() {
				if !p.up.upgraded { // after an upgrade the service is not stopping
					p.sdNotify("STOPPING=1\nSTATUS=stopping")
				}
				p.writeState(func(st *process.DaemonState) { st.Stopping = true })
			},
			Reload:  p.reloadWatched,
			Reopen:  logger.Reopen,
			Upgrade: p.upgrade,
		},
	})
	p.metrics.WatchServices(p.streamCounters)
	p.metrics.Reloads.WithLabelValues("ok")
	p.metrics.Reloads.WithLabelValues("failed")
	if sec, ok := watchdogInterval(); ok {
		stop := p.watchdog(sec)
		defer stop()
	}
	err = p.r.Run(p.ctx, p.services(p.file, specs))
	switch {
	case err == reactor.ErrForced:
		p.log.Warn("stopped without draining")
	case errors.Is(err, reactor.ErrServiceFailed):
		// Logged when it failed; the process drained and exits 1.
	case err != nil:
		p.log.Error("start failed", zap.Error(err))
	}
	return err
}

// checkRotation refuses --log-max-size where rotation could not work
// after the chroot or the switch to creds: rather than lose lines later,
// start fails and says what to change.
func (s *settings) checkRotation(creds *process.Credentials) error {
	if s.logMaxSizeMiB == 0 || s.syslog || s.logfile == "-" {
		return nil
	}
	if s.chroot != "" {
		return fmt.Errorf("--log-max-size: the log %s cannot be rotated after --chroot %s: rotate it with logrotate and SIGUSR1 instead",
			s.logfile, s.chroot)
	}
	if creds == nil {
		return nil
	}
	dir := filepath.Dir(s.logfile)
	ok, err := creds.CanWrite(dir)
	if err != nil {
		return fmt.Errorf("--log-max-size: %w", err)
	}
	if !ok {
		return fmt.Errorf("--log-max-size: user %q (uid %d, gid %d) cannot rotate %s: it may not write the directory %s; "+
			"make it writable by that user, or rotate with logrotate and SIGUSR1 instead", cmp.Or(s.uid, s.gid),
			creds.UID, creds.GID, s.logfile, dir)
	}
	return nil
}

// startOpener starts the process that reopens logs and removes the
// pidfile with root's rights after the switch of user or the chroot (nil
// when there is neither, or we are not root), and tells it of the
// process log.
func (p *proc) startOpener() (*process.Opener, error) {
	s := p.s
	if os.Geteuid() != 0 || s.uid == "" && s.gid == "" && s.chroot == "" {
		return nil, nil
	}
	o := p.logs
	if o == nil {
		o = process.NewOpener()
	}
	if err := o.Start(); err != nil {
		return nil, err
	}
	if !s.syslog && s.logfile != "" && s.logfile != "-" {
		if err := o.Allow(s.logfile); err != nil {
			o.Close()
			return nil, err
		}
	}
	return o, nil
}

// logOwner is who the log file is given to: the user twistd switches
// to, if any.
func logOwner(creds *process.Credentials) *logging.Owner {
	if creds == nil {
		return nil
	}
	return &logging.Owner{UID: creds.UID, GID: creds.GID}
}

// adminName is the admin endpoint's service name: a service name can
// never start with an underscore, so it cannot clash.
const adminName = "_admin"

// services puts the file's admin endpoint, reporting on this process,
// before its services, so it starts first and stops last.
func (p *proc) services(file *config.File, specs []reactor.Spec) []reactor.Spec {
	if file.Admin == nil {
		return specs
	}
	fp, _ := json.Marshal(struct {
		Listen []string
		Pprof  bool
	}{file.Admin.Listen.Strings(), file.Admin.Pprof})
	opts := admin.Options{Source: p, Registry: p.metrics.Registry(), Pprof: file.Admin.Pprof, Series: p.series}
	spec := reactor.Spec{Name: adminName, Type: "admin", Listen: file.Admin.Listen, Pos: file.Path,
		Fingerprint: string(fp), Internal: true, Service: admin.New(opts),
		New: func() (service.Service, error) { return admin.New(opts), nil }}
	if file.Admin.Pprof {
		enableHeapProfile()
	}
	return append([]reactor.Spec{spec}, specs...)
}

// writeState changes what the state file says, if there is one.
func (p *proc) writeState(change func(*process.DaemonState)) {
	if p.state == nil {
		return
	}
	p.mu.Lock()
	change(&p.daemon)
	st := p.daemon
	p.mu.Unlock()
	if err := p.state.Write(st); err != nil {
		p.log.Warn("cannot record the daemon's state for twistd stop and reload", zap.Error(err))
	}
}

// reload re-reads the application file and applies it (SIGHUP). The
// verdict goes to the log, /status, metrics, systemd and the file
// `twistd reload` waits on.
func (p *proc) reload(ctx context.Context) error {
	p.sdNotify(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d\nSTATUS=reloading", monotonicUsec()))
	err := p.applyFile(ctx)
	result := "ok"
	if err != nil {
		result = "failed"
	}
	p.metrics.Reloads.WithLabelValues(result).Inc()
	now := time.Now().UTC()
	p.mu.Lock()
	p.reloads++
	p.lastReload = &admin.Reload{Time: now, Result: result}
	if err != nil {
		p.lastReload.Error = err.Error()
	}
	p.recent = append([]admin.Reload{*p.lastReload}, p.recent[:min(len(p.recent), recentReloads-1)]...)
	verdict := process.Reload{Time: now, Result: result, Error: p.lastReload.Error}
	seq := p.reloads
	p.mu.Unlock()
	p.writeState(func(st *process.DaemonState) { st.Reloads, st.LastReload = seq, &verdict })
	if err == nil {
		p.log.Info("reload succeeded", zap.String("file", p.file.Path))
	}
	p.sdNotify("READY=1\nSTATUS=" + p.statusLine())
	return err
}

// applyFile loads the application anew (its file, or a one-liner's
// flags) and moves the reactor to it: unchanged services re-read their
// data files.
func (p *proc) applyFile(ctx context.Context) error {
	// A reload always comes after the chroot, if any.
	file, specs, err := p.load(p.s.chroot)
	if err != nil && p.file.Path == commandLine {
		return fmt.Errorf("invalid service:\n%w", err)
	}
	if err != nil {
		return fmt.Errorf("invalid application file:\n%w", err)
	}
	err = p.r.Apply(ctx, p.services(file, specs))
	returnMemory()
	if err != nil {
		return err
	}
	p.applyProcess(file)
	p.mu.Lock()
	p.file = file
	p.mu.Unlock()
	return nil
}

// applyProcess applies the new file's process: section: the log level and
// format live (unless a flag or the environment sets them); the rest only
// at the next start, which it says.
func (p *proc) applyProcess(file *config.File) {
	fromFile := func(flag string, val *string, def string) (string, bool) {
		if p.setOutsideFile(flag) {
			return p.v.GetString(flag), false
		}
		if val != nil {
			return *val, true
		}
		return def, true
	}
	if level, ok := fromFile(flagLogLevel, file.Process.LogLevel, "info"); ok && level != p.s.logLevel {
		if err := p.logger.SetLevel(level); err == nil {
			p.s.logLevel = level
			p.log.Info("log level changed", zap.String("level", level))
		}
	}
	if format, ok := fromFile(flagLogFormat, file.Process.LogFormat, "console"); ok && format != p.s.logFormat {
		if err := p.logger.SetFormat(format); err == nil {
			p.s.logFormat = format
			p.log.Info("log format changed", zap.String("format", format))
		}
	}
	old, next := p.file.Process.Settings(), file.Process.Settings()
	for key, val := range next {
		if key == flagLogLevel || key == flagLogFormat {
			continue
		}
		if fmt.Sprint(old[key]) != fmt.Sprint(val) {
			p.log.Warn("process setting changed; it applies at the next start", zap.String("setting", key))
		}
	}
	for key := range old {
		if _, still := next[key]; !still && key != flagLogLevel && key != flagLogFormat {
			p.log.Warn("process setting removed; it applies at the next start", zap.String("setting", key))
		}
	}
}

// setOutsideFile reports whether a flag or TWISTD_ variable sets key.
func (p *proc) setOutsideFile(key string) bool { return p.s.fixed[key] }

// Ready implements admin.Source.
// A failed service (awaiting its restart) makes the process not ready.
func (p *proc) Ready() bool { return p.r != nil && p.r.State() == reactor.Ready && !p.r.Failed() }

// Status implements admin.Source.
func (p *proc) Status() admin.Status {
	p.mu.Lock()
	cfg, last := p.file.Path, p.lastReload
	reloads := append([]admin.Reload{}, p.recent...)
	p.mu.Unlock()
	if cfg != commandLine {
		if abs, err := filepath.Abs(cfg); err == nil {
			cfg = abs
		}
	}
	st := admin.Status{PID: os.Getpid(), Version: version, UptimeSeconds: time.Since(p.began).Seconds(),
		Config: cfg, LastReload: last, State: p.stateName(), Services: []admin.ServiceStatus{},
		Reloads: reloads, RecentErrors: recentErrors(p.logger)}
	for _, svc := range p.r.Services() {
		ss := admin.ServiceStatus{Name: svc.Name, Type: svc.Type, State: "running",
			Listeners:         []admin.Listener{},
			ConnectionsActive: svc.Stats.ConnectionsActive.Load(), ConnectionsTotal: svc.Stats.ConnectionsAccepted.Load(),
			BytesIn: svc.Stats.BytesReceived.Load(), BytesOut: svc.Stats.BytesSent.Load(), Requests: svc.Stats.Requests.Load(),
			Error: svc.Error, Failures: svc.Failures, Restarts: svc.Restarts, Details: svc.Details}
		switch {
		case p.r.State() == reactor.Stopping:
			ss.State = "stopping"
		case svc.Failed:
			ss.State = "failed"
		}
		for _, a := range svc.Addrs {
			ss.Listeners = append(ss.Listeners, admin.Listener{Network: a.Network(), Address: a.String()})
		}
		st.Services = append(st.Services, ss)
	}
	return st
}

func (p *proc) stateName() string {
	switch p.r.State() {
	case reactor.Ready:
		return "ready"
	case reactor.Stopping:
		return "stopping"
	}
	return "starting"
}

// streamCounters feeds the twistd_connections_* and twistd_bytes_* metrics
// from the services' counters at scrape time.
func (p *proc) streamCounters() []metrics.ServiceCounters {
	var out []metrics.ServiceCounters
	for _, svc := range p.r.Services() {
		st := svc.Stats
		out = append(out, metrics.ServiceCounters{Service: svc.Name,
			Accepted: st.ConnectionsAccepted.Load(), Active: st.ConnectionsActive.Load(),
			RefusedMaxConnections: st.RefusedMaxConnections.Load(), RefusedMaxPerPeer: st.RefusedMaxPerPeer.Load(),
			RefusedRatePerPeer: st.RefusedRatePerPeer.Load(), RefusedAllow: st.RefusedAllow.Load(),
			RefusedDeny: st.RefusedDeny.Load(), RefusedTrusted: st.RefusedTrusted.Load(),
			RefusedMaxInstances: st.RefusedMaxInstances.Load(),
			BytesReceived:       st.BytesReceived.Load(), BytesSent: st.BytesSent.Load(), Up: !svc.Failed})
	}
	return out
}

func (p *proc) statusLine() string {
	return fmt.Sprintf("serving %d services", len(p.r.Services()))
}

func (p *proc) sdNotify(state string) {
	if _, err := sddaemon.SdNotify(false, state); err != nil {
		p.log.Debug("sd_notify failed", zap.Error(err))
	}
}

// watchdogInterval reads WATCHDOG_USEC (for this pid) and returns half of it.
func watchdogInterval() (time.Duration, bool) {
	d, err := sddaemon.SdWatchdogEnabled(false)
	if err != nil || d <= 0 {
		return 0, false
	}
	return d / 2, true
}

// watchdog sends WATCHDOG=1 every interval, but only while the reactor's
// event loops answer: a wedged loop stops the pings and systemd restarts us.
func (p *proc) watchdog(interval time.Duration) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), interval)
				alive := p.r.Alive(ctx)
				cancel()
				if alive {
					p.sdNotify("WATCHDOG=1")
				} else {
					p.log.Error("event loop did not answer; withholding the watchdog ping")
				}
			}
		}
	}()
	return func() { close(done) }
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, for systemd's
// RELOADING=1 + MONOTONIC_USEC (Type=notify-reload).
func monotonicUsec() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano() / 1000
}
