package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"github.com/spf13/viper"
	"go.uber.org/zap"

	"github.com/twistd-go/twistd/internal/config"
	"github.com/twistd-go/twistd/internal/logging"
	"github.com/twistd-go/twistd/internal/metrics"
	"github.com/twistd-go/twistd/internal/plugins"
	"github.com/twistd-go/twistd/internal/process"
	"github.com/twistd-go/twistd/internal/reactor"
)

// loadFile reads an application file and builds its services; every
// problem is reported at once.
func loadFile(path string) (*config.File, []reactor.Unit, error) {
	file, err := config.Load(path, config.Options{KnownType: plugins.Known})
	return buildUnits(file, err)
}

// buildUnits lets each plugin decode its services, joining its errors with
// the loader's.
func buildUnits(file *config.File, loadErr error) (*config.File, []reactor.Unit, error) {
	if file == nil {
		return nil, nil, loadErr
	}
	built, err := plugins.Build(file)
	if err := config.Join(loadErr, err); err != nil {
		return nil, nil, err
	}
	var errs []error
	for _, b := range built {
		for _, ep := range b.Spec.Listen {
			if err := reactor.CheckEndpoint(ep); err != nil {
				errs = append(errs, b.Spec.Errorf(nil, "listen %s: %v", ep, err))
			}
		}
	}
	if err := config.Join(errs...); err != nil {
		return nil, nil, err
	}
	units := make([]reactor.Unit, len(built))
	for i, b := range built {
		units[i] = reactor.Unit{Name: b.Spec.Name, Type: b.Spec.Type, Listen: b.Spec.Listen,
			Service: b.Service, Pos: b.Spec.Pos.String()}
	}
	return file, units, nil
}

// runApp runs a loaded application: daemonize, pidfile, logs, then the
// reactor until a stop signal.
func runApp(v *viper.Viper, file *config.File, units []reactor.Unit) error {
	s, err := resolveSettings(v, file)
	if err != nil {
		return err
	}
	var notify *process.Notifier
	if !s.nodaemon {
		notify, err = process.Daemonize(s.logfile)
		if !process.IsDaemon() {
			// The parent: the child has reported (or died).
			if errors.Is(err, process.ErrNotReady) {
				err = fmt.Errorf("%w; see %s", err, s.logfile)
			}
			return withCode(exitFailure, err)
		}
		if err != nil {
			return withCode(exitFailure, err)
		}
	}
	if err := serve(v, s, file, units, notify); err != nil {
		notify.Failed(err)
		if errors.Is(err, reactor.ErrForced) {
			return silentExit(exitFailure)
		}
		return withCode(exitFailure, err)
	}
	return nil
}

// serve is the running process, in twistd's order: umask and rundir,
// pidfile, logs, bind, chroot and credentials, start, ready.
func serve(v *viper.Viper, s *settings, file *config.File, units []reactor.Unit, notify *process.Notifier) error {
	if s.umask >= 0 {
		syscall.Umask(s.umask)
	}
	if err := os.Chdir(s.rundir); err != nil {
		return fmt.Errorf("rundir: %w", err)
	}
	var pid *process.Pidfile
	stale := 0
	if s.pidfile != "" {
		var err error
		if pid, stale, err = process.AcquirePidfile(s.pidfile); err != nil {
			return err
		}
		defer pid.Release()
	}
	logger, err := logging.New(logging.Options{File: s.logfile, Format: s.logFormat, Level: s.logLevel,
		Syslog: s.syslog, Prefix: s.prefix, MaxSizeMiB: s.logMaxSizeMiB, MaxBackups: s.logMaxBackups})
	if err != nil {
		return err
	}
	defer logger.Close()
	log := logger.Logger

	log.Info("twistd starting", zap.String("version", version), zap.Int("pid", os.Getpid()),
		zap.String("file", file.Path), zap.String("app", file.Name))
	if stale != 0 {
		log.Warn("removed stale pidfile", zap.String("file", s.pidfile), zap.Int("pid", stale))
	}
	creds, err := process.LookupCredentials(s.uid, s.gid)
	if err != nil {
		log.Error("start failed", zap.Error(err))
		return err
	}

	reloads := 0
	if pid != nil {
		defer process.RemoveReloadStatus(pid.Path())
	}
	r := reactor.New(reactor.Options{
		Logger:          log,
		Metrics:         metrics.New(version),
		ShutdownTimeout: s.shutdownTimeout,
		ShutdownDelay:   s.shutdownDelay,
		Hooks: reactor.Hooks{
			Bound: func() error { return process.Confine(s.chroot, creds) },
			Ready: func() {
				notify.Ready()
				_, _ = sddaemon.SdNotify(false, "READY=1\nSTATUS=serving "+fmt.Sprint(len(units))+" services")
			},
			Stopping: func() { _, _ = sddaemon.SdNotify(false, sddaemon.SdNotifyStopping) },
			Reload: func(context.Context) error {
				_, _ = sddaemon.SdNotify(false, fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", monotonicUsec()))
				err := revalidate(log, file)
				reloads++
				verdict := process.ReloadStatus{PID: os.Getpid(), Seq: reloads, Time: time.Now().UTC(), Result: "ok"}
				if err != nil {
					verdict.Result, verdict.Error = "failed", err.Error()
				}
				if pid != nil {
					if werr := process.WriteReloadStatus(pid.Path(), verdict); werr != nil {
						log.Warn("cannot record the reload outcome for twistd reload", zap.Error(werr))
					}
				}
				_, _ = sddaemon.SdNotify(false, sddaemon.SdNotifyReady)
				return err
			},
			Reopen: logger.Reopen,
		},
	})
	err = r.Run(context.Background(), units)
	switch {
	case errors.Is(err, reactor.ErrForced):
		log.Warn("stopped without draining")
	case err != nil:
		log.Error("start failed", zap.Error(err))
	}
	return err
}

// revalidate re-reads the application file on SIGHUP and logs whether it
// is valid. Applying it live is the operations issue's reload.
func revalidate(log *zap.Logger, file *config.File) error {
	if file.Path == commandLine {
		log.Info("reload: no application file to re-read (a one-line run)")
		return nil
	}
	_, units, err := loadFile(file.Path)
	if err != nil {
		return fmt.Errorf("invalid application file:\n%w", err)
	}
	log.Info("reload: application file is valid; restart to apply changes",
		zap.String("file", file.Path), zap.Int("services", len(units)))
	return nil
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, for systemd's
// RELOADING=1 + MONOTONIC_USEC (Type=notify-reload).
func monotonicUsec() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano() / 1000
}
