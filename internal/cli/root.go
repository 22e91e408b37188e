package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/twistd-go/twistd/internal/config"
	"github.com/twistd-go/twistd/internal/logging"
	"github.com/twistd-go/twistd/internal/process"
	"github.com/twistd-go/twistd/internal/reactor"
	"github.com/twistd-go/twistd/plugin"
)

// Global flag names (twistd's), also the viper keys and, upper-cased with
// "-" → "_" and a TWISTD_ prefix, the environment variables.
const (
	flagConfig          = "config"
	flagNodaemon        = "nodaemon"
	flagLogfile         = "logfile"
	flagPidfile         = "pidfile"
	flagRundir          = "rundir"
	flagUID             = "uid"
	flagGID             = "gid"
	flagUmask           = "umask"
	flagChroot          = "chroot"
	flagSyslog          = "syslog"
	flagPrefix          = "prefix"
	flagLogFormat       = "log-format"
	flagLogLevel        = "log-level"
	flagShutdownTimeout = "shutdown-timeout"
	flagShutdownDelay   = "shutdown-delay"
	flagLogMaxSize      = "log-max-size"
	flagLogMaxBackups   = "log-max-backups"
	flagReactor         = "reactor"
	flagHelpReactors    = "help-reactors"
	flagProfile         = "profile"
	flagProfiler        = "profiler"
	flagVersion         = "version"
	flagWatch           = "watch"
)

func newRootCommand() *cobra.Command {
	v := viper.New()
	// What services open their own logs through: started only if the
	// process switches users or chroots (proc.startOpener).
	logs := process.NewOpener()
	root := &cobra.Command{
		Use:   "twistd [global flags] (-c app.yaml | PLUGIN [plugin flags])",
		Short: "Run network services from a YAML application file, as a daemon",
		Long: `twistd runs the services of an application file (or one built-in service
from flags) in one process: it daemonizes, writes a pidfile, logs, drops
privileges after binding, reloads on SIGHUP and drains on SIGTERM.`,
		Example: `  twistd -n -c app.yaml                 run app.yaml in the foreground
  twistd echo --listen tcp:7000         daemonize an echo server
  twistd status && twistd stop`,
		Args:              cobra.NoArgs,
		SilenceErrors:     true,
		SilenceUsage:      true,
		TraverseChildren:  true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if show, _ := cmd.Flags().GetBool(flagVersion); show {
				printVersion(cmd.OutOrStdout())
				return nil
			}
			if help, _ := cmd.Flags().GetBool(flagHelpReactors); help {
				printReactors(cmd.OutOrStdout())
				return nil
			}
			path, err := configPath(v)
			if err != nil {
				return err
			}
			if path == "" {
				return withCode(exitUsage, fmt.Errorf("no application file: use -c FILE, or a plugin (twistd plugins lists them)"))
			}
			// Resolved once, before --rundir and --chroot move us: every
			// reload reads the file from where it really is.
			if path, err = filepath.Abs(path); err != nil {
				return withCode(exitUsage, fmt.Errorf("-c: %w", err))
			}
			file, specs, err := loadFileIn(path, "", logs)
			if err != nil {
				return withCode(exitUsage, err)
			}
			return runApp(cmd, v, file, specs, func(chroot string) (*config.File, []reactor.Spec, error) {
				return loadFileIn(path, chroot, logs)
			}, logs)
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return withCode(exitUsage, err) })

	fs := root.Flags()
	fs.StringP(flagConfig, "c", "", "application file (YAML)")
	fs.StringP("python", "y", "", "alias of --config, as in twistd")
	_ = fs.MarkHidden("python")
	fs.BoolP(flagNodaemon, "n", false, "stay in the foreground")
	fs.StringP(flagLogfile, "l", "", `log file; "-" is stdout (default twistd.log when daemonized, stdout with -n)`)
	fs.String(flagPidfile, "twistd.pid", "pid file; empty disables it")
	fs.StringP(flagRundir, "d", ".", "working directory of the running daemon")
	fs.StringP(flagUID, "u", "", "user to run as after binding (name or number)")
	fs.StringP(flagGID, "g", "", "group to run as after binding (name or number)")
	fs.String(flagUmask, "", "octal umask (default 0077 when daemonized, unchanged otherwise)")
	fs.String(flagChroot, "", "chroot into this directory after binding")
	fs.Bool(flagSyslog, false, "log to syslog")
	fs.String(flagPrefix, "twistd", "syslog tag")
	fs.String(flagLogFormat, "console", "log encoding: console or json")
	fs.String(flagLogLevel, "info", "log level: debug, info, warn or error")
	fs.Duration(flagShutdownTimeout, 30*time.Second, "how long a graceful stop may drain")
	fs.Duration(flagShutdownDelay, 0, "on SIGTERM, report not-ready and keep serving this long before stopping")
	fs.String(flagLogMaxSize, "0", "rotate the log file past this size (whole MiB, e.g. 100 or 100MiB); 0 = never")
	fs.Int(flagLogMaxBackups, 10, "rotated log files to keep")
	fs.StringP(flagReactor, "r", reactor.DefaultReactor(), "the reactor driving connections (--help-reactors lists them)")
	fs.Bool(flagHelpReactors, false, "list the reactors and when to pick which, then exit")
	fs.StringP(flagProfile, "p", "", "write a profile of the whole run to this file (twistd's --profile)")
	fs.String(flagProfiler, "cpu", "what --profile records: cpu, heap or trace")
	fs.Bool(flagVersion, false, "print the version and exit (as twistd --version)")
	fs.Bool(flagWatch, false, "reload when the application file or a data file it names changes")

	_ = v.BindPFlags(fs)
	v.SetEnvPrefix("TWISTD")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AllowEmptyEnv(true)
	v.AutomaticEnv()

	root.AddCommand(
		newCheckCommand(v),
		newStopCommand(v),
		newReloadCommand(v),
		newUpgradeCommand(v),
		newStatusCommand(v),
		newPluginsCommand(),
		newVersionCommand(),
		newManCommand(),
	)
	root.AddCommand(newTopicCommands()...)
	for _, m := range plugin.All() {
		root.AddCommand(newPluginCommand(v, m, logs))
	}
	return root
}

// configPath returns the application file named by -c, -y or TWISTD_CONFIG.
func configPath(v *viper.Viper) (string, error) {
	path := v.GetString(flagConfig)
	if y := v.GetString("python"); y != "" {
		if path != "" && path != y {
			return "", withCode(exitUsage, fmt.Errorf("-c %s and -y %s name different files", path, y))
		}
		path = y
	}
	return path, nil
}

// settings are the resolved global flags.
type settings struct {
	nodaemon        bool
	logfile         string
	pidfile         string
	rundir          string
	uid, gid        string
	umask           int // -1: unchanged
	chroot          string
	syslog          bool
	prefix          string
	logFormat       string
	logLevel        string
	shutdownTimeout time.Duration
	shutdownDelay   time.Duration
	logMaxSizeMiB   int
	logMaxBackups   int
	reactor         string
	profile         string // "" for none
	profiler        string
	watch           bool
	// fixed are the settings given by a flag or the environment: a
	// reload's process: section cannot change them.
	fixed map[string]bool
}

// resolveSettings applies the precedence flag > environment > the file's
// process: section > default, and checks every value.
func resolveSettings(cmd *cobra.Command, v *viper.Viper, file *config.File) (*settings, error) {
	if file != nil {
		if err := v.MergeConfigMap(file.Process.Settings()); err != nil {
			return nil, err
		}
	}
	cwd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	abs := func(key string) string {
		p := v.GetString(key)
		if p == "" || p == "-" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(cwd, p)
	}
	fixed := make(map[string]bool)
	cmd.Root().Flags().VisitAll(func(f *pflag.Flag) {
		if _, env := os.LookupEnv(envName(f.Name)); f.Changed || env {
			fixed[f.Name] = true
		}
	})
	s := &settings{
		fixed:         fixed,
		nodaemon:      v.GetBool(flagNodaemon),
		logfile:       abs(flagLogfile),
		pidfile:       abs(flagPidfile),
		rundir:        abs(flagRundir),
		uid:           v.GetString(flagUID),
		gid:           v.GetString(flagGID),
		chroot:        abs(flagChroot),
		syslog:        v.GetBool(flagSyslog),
		prefix:        v.GetString(flagPrefix),
		logFormat:     v.GetString(flagLogFormat),
		logLevel:      v.GetString(flagLogLevel),
		logMaxBackups: v.GetInt(flagLogMaxBackups),
		reactor:       v.GetString(flagReactor),
		profile:       abs(flagProfile),
		profiler:      v.GetString(flagProfiler),
		watch:         v.GetBool(flagWatch),
	}
	var errs []string
	if s.shutdownTimeout, err = duration(v, flagShutdownTimeout); err != nil {
		errs = append(errs, err.Error())
	}
	if s.shutdownDelay, err = duration(v, flagShutdownDelay); err != nil {
		errs = append(errs, err.Error())
	}
	if s.logMaxSizeMiB, err = sizeMiB(v.GetString(flagLogMaxSize)); err != nil {
		errs = append(errs, "--log-max-size: "+err.Error())
	}
	if s.logMaxBackups < 0 {
		errs = append(errs, "--log-max-backups: must not be negative")
	}
	if _, err := logging.Encoder(s.logFormat); err != nil {
		errs = append(errs, "--log-format: "+err.Error())
	}
	if _, err := logging.ParseLevel(s.logLevel); err != nil {
		errs = append(errs, "--log-level: "+err.Error())
	}
	if err := reactor.CheckReactor(s.reactor); err != nil {
		errs = append(errs, "--reactor: "+err.Error())
	}
	if !slices.Contains(profilers, s.profiler) {
		errs = append(errs, fmt.Sprintf("--profiler %q: want cpu, heap or trace", s.profiler))
	}
	s.umask = -1
	if u := v.GetString(flagUmask); u != "" {
		n, err := strconv.ParseUint(u, 8, 32)
		if err != nil || n > 0o777 {
			errs = append(errs, fmt.Sprintf("--umask %q: want octal digits such as 0022", u))
		}
		s.umask = int(n)
	} else if !s.nodaemon {
		s.umask = 0o077
	}
	if s.logfile == "" {
		if s.nodaemon {
			s.logfile = "-"
		} else {
			s.logfile = filepath.Join(cwd, "twistd.log")
		}
	}
	if len(errs) > 0 {
		return nil, withCode(exitUsage, fmt.Errorf("%s", strings.Join(errs, "\n")))
	}
	return s, nil
}

// printReactors writes --help-reactors: each reactor with when to pick it.
func printReactors(w io.Writer) {
	for i, r := range reactor.Reactors() {
		def := ""
		if i == 0 {
			def = " (default)"
		}
		fmt.Fprintf(w, "%-12s %s%s\n", r.Name, r.Description, def)
	}
}

// envName is the environment variable of a global flag: TWISTD_LOG_FORMAT.
func envName(flag string) string {
	return "TWISTD_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func duration(v *viper.Viper, key string) (time.Duration, error) {
	s := v.GetString(key)
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--%s %q: want a duration such as 30s", key, s)
	}
	return d, nil
}

// sizeMiB reads a --log-max-size: a bare number is MiB (as lumberjack), a
// number with a unit is rounded up to whole MiB.
func sizeMiB(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("%q must not be negative", s)
		}
		return n, nil
	}
	b, err := config.ParseSize(s)
	if err != nil {
		return 0, err
	}
	return int((b + (1<<20 - 1)) >> 20), nil
}
