package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/internal/admin"
	"github.com/twistd-go/twistd/internal/config"
	"github.com/twistd-go/twistd/internal/process"
)

// newReloadCommand makes `twistd reload`: SIGHUP the daemon, then wait for
// its verdict — from the file it keeps beside its pidfile, or, without a
// pidfile (under systemd: --pid $MAINPID), from its admin endpoint's
// /status. Exit 0 reloaded, 1 failed, 3 not running.
func newReloadCommand(v *viper.Viper) *cobra.Command {
	var timeout time.Duration
	var pidFlag int
	cmd := &cobra.Command{
		Use:   "reload [--pidfile F | --pid N -c app.yaml]",
		Short: "Reload the daemon's application file (SIGHUP) and wait for its verdict (0 ok, 1 failed, 3 not running)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pidfile, file, err := controlTarget(cmd, v)
			if err != nil {
				return err
			}
			pid := pidFlag
			if pid == 0 {
				if pidfile == "" {
					return withCode(exitUsage, errors.New("no pidfile: name the daemon with --pid N (systemd: --pid $MAINPID)"))
				}
				st, p, err := process.Check(pidfile)
				if err != nil || st != process.Running {
					fmt.Println("not running")
					return silentExit(exitNotRunning)
				}
				pid = p
			} else if process.Exited(pid) {
				fmt.Println("not running")
				return silentExit(exitNotRunning)
			}
			w, err := verdictWatcher(pidfile, pidFlag == 0, file, pid)
			if err != nil {
				return withCode(exitFailure, err)
			}
			if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
				return withCode(exitFailure, fmt.Errorf("reload pid %d: %w", pid, err))
			}
			if w == nil {
				fmt.Printf("reload requested (pid %d); without a pidfile or an admin endpoint its outcome is only in the log\n", pid)
				return nil
			}
			deadline := time.Now().Add(timeout)
			for time.Now().Before(deadline) {
				done, verdictErr := w()
				if done {
					if verdictErr != nil {
						return withCode(exitFailure, fmt.Errorf("reload failed (pid %d): %w", pid, verdictErr))
					}
					fmt.Printf("reloaded (pid %d)\n", pid)
					return nil
				}
				if process.Exited(pid) {
					return withCode(exitFailure, fmt.Errorf("pid %d exited during the reload", pid))
				}
				time.Sleep(20 * time.Millisecond)
			}
			return withCode(exitFailure, fmt.Errorf("no reload verdict from pid %d within %s", pid, timeout))
		},
	}
	cmd.Flags().String(flagPidfile, "twistd.pid", "pid file of the daemon")
	cmd.Flags().IntVar(&pidFlag, "pid", 0, "signal this process instead of the pidfile's (systemd: $MAINPID)")
	cmd.Flags().StringP(flagConfig, "c", "", "the daemon's application file (its admin endpoint tells the verdict)")
	cmd.Flags().DurationVar(&timeout, "timeout", 60*time.Second, "how long to wait for the daemon's verdict")
	return cmd
}

// verdictWatcher returns a poll function reporting whether a reload
// verdict newer than the present one has arrived, and its error; nil when
// there is no way to learn it.
func verdictWatcher(pidfile string, usePidfile bool, file *config.File, pid int) (func() (bool, error), error) {
	if usePidfile && pidfile != "" {
		before, _ := process.ReadState(pidfile)
		if before.PID != pid {
			before.Reloads = 0
		}
		return func() (bool, error) {
			v, err := process.ReadState(pidfile)
			if err != nil || v.PID != pid || v.Reloads <= before.Reloads || v.LastReload == nil {
				return false, nil
			}
			if v.LastReload.Result != "ok" {
				return true, errors.New(v.LastReload.Error)
			}
			return true, nil
		}, nil
	}
	if file == nil || file.Admin == nil || len(file.Admin.Listen) == 0 {
		return nil, nil
	}
	client, base, err := adminClient(file.Admin.Listen[0])
	if err != nil {
		return nil, err
	}
	before, err := lastReload(client, base)
	if err != nil {
		return nil, fmt.Errorf("admin endpoint: %w", err)
	}
	return func() (bool, error) {
		r, err := lastReload(client, base)
		if err != nil || r == nil || (before != nil && !r.Time.After(before.Time)) {
			return false, nil
		}
		if r.Result != "ok" {
			return true, errors.New(r.Error)
		}
		return true, nil
	}, nil
}

// adminClient reaches an admin endpoint: TCP (a wildcard interface is
// reached on loopback) or a unix socket.
func adminClient(ep endpoint.Endpoint) (*http.Client, string, error) {
	tr := &http.Transport{}
	switch ep.Kind {
	case endpoint.Unix:
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", ep.Path)
		}
		return &http.Client{Transport: tr, Timeout: 5 * time.Second}, "http://admin", nil
	case endpoint.TCP, endpoint.TCP6:
		host := ep.Interface
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		if ep.Port == 0 {
			return nil, "", errors.New("the admin endpoint's port is chosen at start (port 0): use a pidfile")
		}
		return &http.Client{Transport: tr, Timeout: 5 * time.Second}, "http://" + net.JoinHostPort(host, fmt.Sprint(ep.Port)), nil
	}
	return nil, "", fmt.Errorf("cannot reach an admin endpoint %s", ep)
}

func lastReload(c *http.Client, base string) (*admin.Reload, error) {
	req, _ := http.NewRequest("GET", base+"/status", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("/status answered %s", resp.Status)
	}
	var st admin.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, err
	}
	return st.LastReload, nil
}
