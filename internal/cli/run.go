package cli

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/twistd-go/twistd/internal/config"
	"github.com/twistd-go/twistd/internal/plugins"
	"github.com/twistd-go/twistd/internal/process"
	"github.com/twistd-go/twistd/internal/reactor"
	"github.com/twistd-go/twistd/plugin"
)

// loadOptions are how every command reads an application file: service
// types and reactors are the ones this binary has.
var loadOptions = config.Options{KnownType: plugin.Known, CheckReactor: reactor.CheckReactor}

// loadFile reads an application file and builds its services; every
// problem is reported at once.
func loadFile(path string) (*config.File, []reactor.Spec, error) { return loadFileIn(path, "", nil) }

// loadFileIn is loadFile for a process chrooted into chroot ("" for
// none): the file, and the files its services read, are found inside the
// jail (see config.Options.Chroot); path must then be absolute. Services
// open their own logs through logs (nil: directly).
func loadFileIn(path, chroot string, logs *process.Opener) (*config.File, []reactor.Spec, error) {
	file, err := config.Load(path, optionsIn(chroot, logs))
	return buildServices(file, err)
}

// optionsIn are loadOptions for a process chrooted into chroot, whose
// services open their logs through logs (nil: directly).
func optionsIn(chroot string, logs *process.Opener) config.Options {
	opts := loadOptions
	opts.Chroot = chroot
	if logs != nil {
		opts.LogOpener = logs
	}
	return opts
}

// chrootWarnings are the reasons a reload under --chroot dir would fail
// to read what the application names: the file itself, or a service's
// file outside the jail. None without a chroot.
func chrootWarnings(file *config.File, dir string) []string {
	if dir == "" {
		return nil
	}
	var out []string
	if file.Path != commandLine {
		if abs, err := filepath.Abs(file.Path); err == nil {
			if _, err := config.InChroot(dir, abs); err != nil {
				out = append(out, "application file "+err.Error()+": no reload can read it")
			}
		}
	}
	for _, w := range file.OutsideChroot(dir) {
		out = append(out, w.Error())
	}
	return out
}

// buildServices lets each plugin decode its services, joining its errors
// with the loader's. The admin endpoint is not among them: the running
// process adds it (proc.services), since it reports on that process.
func buildServices(file *config.File, loadErr error) (*config.File, []reactor.Spec, error) {
	if file == nil {
		return nil, nil, loadErr
	}
	specs, err := plugins.Build(file)
	// Whether this build's reactor can serve each endpoint is checked for
	// every service, built or not, so its errors join the plugins'.
	errs := []error{loadErr, err}
	for _, s := range file.Services {
		for _, ep := range s.Listen {
			if err := reactor.CheckEndpoint(ep); err != nil {
				errs = append(errs, s.Errorf(nil, "listen %s: %v", ep, err))
			}
		}
	}
	if err := config.Join(errs...); err != nil {
		return nil, nil, err
	}
	return file, specs, nil
}

// loader builds an application anew: from its file, or from a one-liner's
// flags, as a process chrooted into chroot ("" for none) finds their
// files. A reload calls it again.
type loader func(chroot string) (*config.File, []reactor.Spec, error)

// runApp runs a loaded application: daemonize, pidfile, logs, then the
// reactor until a stop signal; SIGHUP reloads it with load.
// The services opened their logs through logs, which serve starts if the
// process is to switch users or chroot.
func runApp(cmd *cobra.Command, v *viper.Viper, file *config.File, specs []reactor.Spec, load loader, logs *process.Opener) error {
	s, err := resolveSettings(cmd, v, file)
	if err != nil {
		return err
	}
	var notify *process.Notifier
	successor := process.IsUpgrade()
	if successor {
		// Started by an upgrade: detached already (or in the foreground
		// as its predecessor), and the predecessor waits on this pipe.
		notify = process.UpgradeNotifier()
	} else if !s.nodaemon {
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
	stopProfile, err := startProfile(s.profile, s.profiler)
	if err != nil {
		notify.Failed(err)
		return withCode(exitFailure, err)
	}
	p := newProc(cmd.Context(), v, s, file, notify, load)
	p.up.successor = successor
	p.logs = logs
	err = p.serve(specs)
	if perr := stopProfile(); perr != nil && err == nil {
		err = fmt.Errorf("--profile: %w", perr)
	}
	if err != nil {
		notify.Failed(err)
		if errors.Is(err, reactor.ErrForced) {
			return silentExit(exitFailure)
		}
		return withCode(exitFailure, err)
	}
	return nil
}

// checkChroot is the jail twistd check warns about: --chroot (or
// TWISTD_CHROOT), made absolute, else the file's process: chroot.
func checkChroot(v *viper.Viper, file *config.File) string {
	if dir := v.GetString(flagChroot); dir != "" {
		if abs, err := filepath.Abs(dir); err == nil {
			return abs
		}
		return dir
	}
	if file.Process.Chroot != nil {
		return *file.Process.Chroot
	}
	return ""
}
