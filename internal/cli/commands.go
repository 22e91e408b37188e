package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/twistd-go/twistd/internal/config"
	"github.com/twistd-go/twistd/internal/process"
	"github.com/twistd-go/twistd/plugin"
)

// commandLine is the file name a one-liner's generated application
// file is known by in messages.
const commandLine = "command line"

func newCheckCommand(v *viper.Viper) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "check -c app.yaml",
		Short: "Validate an application file and start nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				path = cmd.Root().Flags().Lookup(flagConfig).Value.String()
			}
			if path == "" {
				return withCode(exitUsage, errors.New("check: no application file: use -c FILE"))
			}
			file, _, err := loadFile(path)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				fmt.Fprintf(os.Stderr, "%s: invalid\n", path)
				return silentExit(exitUsage)
			}
			for _, w := range chrootWarnings(file, checkChroot(v, file)) {
				fmt.Fprintln(os.Stderr, "warning: "+w)
			}
			fmt.Printf("%s: ok (%d services)\n", path, len(file.Services))
			return nil
		},
	}
	cmd.Flags().StringVarP(&path, flagConfig, "c", "", "application file")
	cmd.Flags().StringVarP(&path, "python", "y", "", "alias of --config")
	_ = cmd.Flags().MarkHidden("python")
	return cmd
}

// pidfileOf resolves the pidfile a control command acts on: its own
// --pidfile, else the global chain (flag > env > -c file's process: > default).
func pidfileOf(cmd *cobra.Command, v *viper.Viper) (string, error) {
	p, _, err := controlTarget(cmd, v)
	if err != nil {
		return "", err
	}
	if p == "" {
		return "", withCode(exitUsage, errors.New("no pidfile (--pidfile is empty)"))
	}
	return p, nil
}

// daemonState finds a control command's pidfile and what it says of the
// daemon; a pidfile that cannot be read exits with code.
func daemonState(cmd *cobra.Command, v *viper.Viper, code int) (string, process.Status, int, error) {
	pidfile, err := pidfileOf(cmd, v)
	if err != nil {
		return "", 0, 0, err
	}
	st, pid, err := process.Check(pidfile)
	if err != nil {
		return "", 0, 0, withCode(code, err)
	}
	return pidfile, st, pid, nil
}

// controlTarget resolves a control command's pidfile (absolute; "" when
// disabled) and the application file named by -c, if any.
func controlTarget(cmd *cobra.Command, v *viper.Viper) (string, *config.File, error) {
	for _, name := range []string{flagPidfile, flagConfig} {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
			v.Set(name, f.Value.String())
		}
	}
	path, err := configPath(v)
	if err != nil {
		return "", nil, err
	}
	var file *config.File
	if path != "" {
		var lerr error
		file, lerr = config.Load(path, loadOptions)
		if file == nil {
			return "", nil, withCode(exitUsage, lerr)
		}
		if err := v.MergeConfigMap(file.Process.Settings()); err != nil {
			return "", nil, err
		}
	}
	p := v.GetString(flagPidfile)
	if p == "" {
		return "", file, nil
	}
	abs, err := filepath.Abs(p)
	return abs, file, err
}

func newStatusCommand(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status [--pidfile F | -c app.yaml]",
		Short: `Tell whether the daemon runs (LSB codes: 0 running, 1 stale pidfile, 3 not running)`,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pidfile, st, pid, err := daemonState(cmd, v, exitNotRunning)
			if err != nil {
				return err
			}
			switch st {
			case process.Running:
				fmt.Printf("running (pid %d)\n", pid)
				return nil
			case process.Stale:
				fmt.Printf("not running, stale pidfile %s\n", pidfile)
				return silentExit(exitFailure)
			}
			fmt.Println("not running")
			return silentExit(exitNotRunning)
		},
	}
	cmd.Flags().String(flagPidfile, "twistd.pid", "pid file of the daemon")
	cmd.Flags().StringP(flagConfig, "c", "", "the daemon's application file: its process: pidfile names the daemon")
	return cmd
}

func newStopCommand(v *viper.Viper) *cobra.Command {
	var timeout time.Duration
	var force bool
	cmd := &cobra.Command{
		Use:   "stop [--pidfile F | -c app.yaml] [--timeout D] [--force]",
		Short: "Stop the daemon gracefully (SIGTERM) and wait for it to exit",
		Long: `Stop the daemon gracefully (SIGTERM) and wait for it to exit: 0 once it has,
1 if it still runs after --timeout or the --pidfile given does not exist. A
daemon already stopping (a stop that timed out before) is only waited for,
never cut short; --force stops it at once, cutting the connections still
draining (a second SIGTERM).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pidfile, err := pidfileOf(cmd, v)
			if err != nil {
				return err
			}
			// A pidfile named on the command line must be there: a wrong
			// path is not "not running". The default one is gone once its
			// daemon stopped, and stopping twice is fine.
			if f := cmd.Flags().Lookup(flagPidfile); f.Changed {
				if _, err := os.Stat(pidfile); errors.Is(err, os.ErrNotExist) {
					return withCode(exitFailure, fmt.Errorf("pidfile %s does not exist: no daemon writes it", f.Value))
				}
			}
			st, pid, err := process.Check(pidfile)
			if err != nil {
				return withCode(exitFailure, err)
			}
			if st != process.Running {
				fmt.Println("not running")
				return nil
			}
			state, _ := process.ReadState(pidfile)
			stopping := state.PID == pid && state.Stopping
			signals := 1 // a graceful stop
			switch {
			case stopping && force:
				fmt.Printf("already stopping (pid %d); forcing\n", pid)
			case stopping:
				fmt.Printf("already stopping (pid %d); waiting for its drain\n", pid)
				signals = 0
			case force:
				signals = 2 // the second forces
			}
			for i := 0; i < signals; i++ {
				if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
					return withCode(exitFailure, fmt.Errorf("stop pid %d: %w", pid, err))
				}
				if i == 0 && signals == 2 {
					waitStopping(pidfile, pid, time.Second)
				}
			}
			deadline := time.Now().Add(timeout)
			for time.Now().Before(deadline) {
				if st, _, _ := process.Check(pidfile); st != process.Running && process.Exited(pid) {
					fmt.Printf("stopped (pid %d)\n", pid)
					return nil
				}
				time.Sleep(20 * time.Millisecond)
			}
			return withCode(exitFailure, fmt.Errorf("pid %d still running after %s", pid, timeout))
		},
	}
	cmd.Flags().String(flagPidfile, "twistd.pid", "pid file of the daemon")
	cmd.Flags().StringP(flagConfig, "c", "", "the daemon's application file: its process: pidfile names the daemon")
	cmd.Flags().DurationVar(&timeout, "timeout", 60*time.Second, "how long to wait for the daemon to exit")
	cmd.Flags().BoolVar(&force, "force", false, "stop at once, without waiting for in-flight work to drain")
	return cmd
}

// waitStopping waits up to d for pid's state file to say it is stopping,
// so the signal that follows is taken as the second one.
func waitStopping(pidfile string, pid int, d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if st, _ := process.ReadState(pidfile); st.PID == pid && st.Stopping {
			return
		}
	}
}

func newPluginsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "plugins",
		Short: "List the built-in services",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			for _, m := range plugin.All() {
				fmt.Printf("%-12s %s\n", m.Name(), m.Description())
			}
		},
	}
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			printVersion(cmd.OutOrStdout())
		},
	}
}
