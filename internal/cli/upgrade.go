package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"go.uber.org/zap"

	"github.com/twistd-go/twistd/internal/process"
	"github.com/twistd-go/twistd/internal/reactor"
)

// defaultUpgradeTimeout bounds the wait for a new binary to be ready when
// the upgrade came by SIGUSR2 alone.
const defaultUpgradeTimeout = 60 * time.Second

// upgrader is what a running process needs to start its successor: the
// binary and directory it was started from (found before --rundir moves
// it and before the binary is replaced on disk), and whether a successor
// took over.
type upgrader struct {
	exe, dir string
	err      error // why exe or dir could not be found
	upgraded bool
	// successor: this process was started by an upgrade; its
	// predecessor tells systemd of it (MAINPID=).
	successor bool
}

func newUpgrader() upgrader {
	exe, err := os.Executable()
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	dir, derr := os.Getwd()
	return upgrader{exe: exe, dir: dir, err: errors.Join(err, derr)}
}

// upgradeRequest is what `twistd upgrade` leaves beside the pidfile
// before it sends SIGUSR2 (PIDFILE.upgrade): the binary, when it is not
// the one the daemon runs, and how long to wait for it.
type upgradeRequest struct {
	Binary    string `json:"binary,omitempty"`
	TimeoutMS int64  `json:"timeout_ms,omitempty"`
}

func upgradeRequestPath(pidfile string) string { return pidfile + ".upgrade" }

// takeUpgradeRequest reads and removes the request beside pidfile; only
// one written by root or by this process's own user counts, since it
// names a program to run.
func takeUpgradeRequest(pidfile string) (upgradeRequest, error) {
	var req upgradeRequest
	if pidfile == "" {
		return req, nil
	}
	path := upgradeRequestPath(pidfile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return req, nil
	}
	if err != nil {
		return req, fmt.Errorf("upgrade request: %w", err)
	}
	defer f.Close()
	_ = os.Remove(path)
	fi, err := f.Stat()
	if err != nil {
		return req, fmt.Errorf("upgrade request: %w", err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return req, fmt.Errorf("upgrade request %s belongs to uid %d, neither root nor us: ignored", path, st.Uid)
	}
	if err := json.NewDecoder(&limitedReader{f, 64 << 10}).Decode(&req); err != nil {
		return req, fmt.Errorf("upgrade request %s: %w", path, err)
	}
	return req, nil
}

type limitedReader struct {
	f *os.File
	n int64
}

func (l *limitedReader) Read(b []byte) (int, error) {
	if l.n <= 0 {
		return 0, errors.New("too long")
	}
	if int64(len(b)) > l.n {
		b = b[:l.n]
	}
	n, err := l.f.Read(b)
	l.n -= int64(n)
	return n, err
}

// upgrade is the SIGUSR2 hook: start the new binary on every socket this
// process holds and wait for it to be ready. True means it is, and this
// process drains and exits; on failure everything is as before.
func (p *proc) upgrade(_ context.Context) bool {
	began := time.Now()
	pid, err := p.startSuccessor()
	verdict := process.Upgrade{Time: time.Now().UTC(), Result: "ok", PID: pid}
	if err != nil {
		verdict.Result, verdict.Error = "failed", err.Error()
	}
	p.writeState(func(st *process.DaemonState) { st.Upgrades++; st.LastUpgrade = &verdict })
	if err != nil {
		p.log.Error("upgrade failed; still serving", zap.Error(err))
		return false
	}
	p.up.upgraded = true
	// The successor is the main process now; what this one tells
	// systemd from here on would be about the service, so it says nothing more.
	p.sdNotify(fmt.Sprintf("MAINPID=%d\nSTATUS=upgraded to pid %d", pid, pid))
	p.log.Info("upgraded: the new process is ready; draining", zap.Int("new_pid", pid),
		zap.Duration("took", time.Since(began)))
	return true
}

// startSuccessor moves the pidfile aside, starts the new binary on the
// sockets, and puts the pidfile back if it fails.
func (p *proc) startSuccessor() (int, error) {
	s := p.s
	req, err := takeUpgradeRequest(s.pidfile)
	if err != nil {
		return 0, err
	}
	if p.up.err != nil {
		return 0, fmt.Errorf("cannot find the running binary: %w", p.up.err)
	}
	if s.chroot != "" {
		return 0, fmt.Errorf("cannot upgrade under --chroot %s: the binary is outside the jail; restart instead", s.chroot)
	}
	timeout := defaultUpgradeTimeout
	if req.TimeoutMS > 0 {
		timeout = time.Duration(req.TimeoutMS) * time.Millisecond
	}
	binary := cmp.Or(req.Binary, p.up.exe)
	files, names, err := p.r.Handoff()
	if err != nil {
		return 0, err
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	if p.pidfile != nil {
		old := s.pidfile + process.OldbinSuffix
		if st, pid, _ := process.Check(old); st == process.Running {
			return 0, fmt.Errorf("an upgrade is under way: pid %d holds %s", pid, old)
		}
		if err := p.pidfile.Rename(old); err != nil {
			return 0, err
		}
		if p.state != nil {
			if err := p.state.Rename(old); err != nil {
				_ = p.pidfile.Rename(s.pidfile)
				return 0, err
			}
		}
	}
	pid, err := process.Successor{Binary: binary, Args: os.Args[1:], Dir: p.up.dir,
		Sockets: files, Names: names, FDsEnv: reactor.UpgradeFDsEnv, NamesEnv: reactor.UpgradeFDNamesEnv,
		Setsid: !s.nodaemon, Timeout: timeout}.Start()
	if err != nil && p.pidfile != nil {
		// Back in place, over whatever the failed successor left there.
		if rerr := p.pidfile.Rename(s.pidfile); rerr != nil {
			err = errors.Join(err, rerr)
		}
		if p.state != nil {
			if rerr := p.state.Rename(s.pidfile); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", binary, err)
	}
	p.r.HandedOver()
	return pid, nil
}

// newUpgradeCommand makes `twistd upgrade`: SIGUSR2 the daemon, which
// starts the new binary on its sockets, and wait for the verdict.
func newUpgradeCommand(v *viper.Viper) *cobra.Command {
	var timeout time.Duration
	var binary string
	var pidFlag int
	cmd := &cobra.Command{
		Use:   "upgrade [--pidfile F | -c app.yaml] [--binary PATH] [--timeout D]",
		Short: "Replace the running daemon by a new binary without dropping a connection (SIGUSR2)",
		Long: `Replace the running daemon by a new binary without dropping a connection,
as nginx's binary upgrade (SIGUSR2 to the daemon does the same).

The daemon starts the binary it was started from (the file at that path
now, so install the new one there first), or --binary PATH, with its own
arguments and application file, and passes it every listening socket: the
new process serves on those (binding only endpoints that are new), so no
connection is refused. While both run, PIDFILE.oldbin names the old process
and PIDFILE the new one. Once the new process is ready, the old one drains
as on SIGTERM and exits; under systemd it hands the main PID over
(MAINPID=). If the new binary cannot start (not executable, exits, an
invalid application file, not ready within --timeout), the old one serves
on and its pidfile is put back.

Exit 0 once the new process is ready (it prints the new pid), 1 when the
upgrade failed (with the new binary's error), 3 when no daemon runs.
An upgrade is refused under --chroot (the binary is outside the jail). After
--uid/--gid the new binary runs as that user, on the passed sockets, and
must be able to write the pidfile's directory.`,
		Example: `  install -m 0755 twistd-new /usr/local/bin/twistd && twistd upgrade -c app.yaml
  twistd upgrade --pidfile /run/twistd.pid --binary /opt/twistd-1.2/twistd
  kill -USR2 $(cat twistd.pid)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pidfile, _, err := controlTarget(cmd, v)
			if err != nil {
				return err
			}
			if pidFlag != 0 || pidfile == "" {
				if pidFlag == 0 {
					return withCode(exitUsage, errors.New("no pidfile: name the daemon with --pid N (systemd: --pid $MAINPID)"))
				}
				if process.Exited(pidFlag) {
					fmt.Println("not running")
					return silentExit(exitNotRunning)
				}
				if binary != "" {
					return withCode(exitUsage, errors.New("--binary needs the daemon's pidfile"))
				}
				if err := syscall.Kill(pidFlag, syscall.SIGUSR2); err != nil {
					return withCode(exitFailure, fmt.Errorf("upgrade pid %d: %w", pidFlag, err))
				}
				fmt.Printf("upgrade requested (pid %d); without a pidfile its outcome is only in the log\n", pidFlag)
				return nil
			}
			st, pid, err := process.Check(pidfile)
			if err != nil || st != process.Running {
				fmt.Println("not running")
				return silentExit(exitNotRunning)
			}
			if st, opid, _ := process.Check(pidfile + process.OldbinSuffix); st == process.Running {
				return withCode(exitFailure, fmt.Errorf("an upgrade is under way: pid %d still holds %s%s", opid, pidfile, process.OldbinSuffix))
			}
			req := upgradeRequest{TimeoutMS: timeout.Milliseconds()}
			if binary != "" {
				if req.Binary, err = filepath.Abs(binary); err != nil {
					return withCode(exitUsage, fmt.Errorf("--binary: %w", err))
				}
				if fi, err := os.Stat(req.Binary); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
					return withCode(exitFailure, fmt.Errorf("--binary %s: not an executable file", binary))
				}
			}
			before := upgradeState(pidfile, pid)
			b, _ := json.Marshal(req)
			// Readable by all: a daemon that switched users after its
			// start reads a request root wrote (it holds no secret; the
			// daemon checks who owns it).
			if err := os.WriteFile(upgradeRequestPath(pidfile), b, 0o644); err != nil {
				return withCode(exitFailure, fmt.Errorf("upgrade request: %w", err))
			}
			if err := syscall.Kill(pid, syscall.SIGUSR2); err != nil {
				_ = os.Remove(upgradeRequestPath(pidfile))
				return withCode(exitFailure, fmt.Errorf("upgrade pid %d: %w", pid, err))
			}
			deadline := time.Now().Add(timeout + 10*time.Second)
			for time.Now().Before(deadline) {
				st := upgradeState(pidfile, pid)
				if st.Upgrades > before.Upgrades && st.LastUpgrade != nil {
					if u := st.LastUpgrade; u.Result != "ok" {
						return withCode(exitFailure, fmt.Errorf("upgrade failed; pid %d serves on: %s", pid, u.Error))
					}
					fmt.Printf("upgraded: pid %d (was %d)\n", st.LastUpgrade.PID, pid)
					return nil
				}
				if process.Exited(pid) {
					// A quick drain may end before the verdict is seen: a
					// successor holding the pidfile is the verdict.
					if st, npid, _ := process.Check(pidfile); st == process.Running && npid != pid {
						fmt.Printf("upgraded: pid %d (was %d)\n", npid, pid)
						return nil
					}
					return withCode(exitFailure, fmt.Errorf("pid %d exited during the upgrade", pid))
				}
				time.Sleep(5 * time.Millisecond)
			}
			return withCode(exitFailure, fmt.Errorf("no upgrade verdict from pid %d within %s", pid, timeout))
		},
	}
	cmd.Flags().String(flagPidfile, "twistd.pid", "pid file of the daemon")
	cmd.Flags().IntVar(&pidFlag, "pid", 0, "signal this process instead of the pidfile's (systemd: $MAINPID); its outcome is then only in the log")
	cmd.Flags().StringP(flagConfig, "c", "", "the daemon's application file: its process: pidfile names the daemon")
	cmd.Flags().StringVar(&binary, "binary", "", "run this binary instead of the one the daemon was started from")
	cmd.Flags().DurationVar(&timeout, "timeout", defaultUpgradeTimeout, "how long the new binary has to be ready")
	return cmd
}

// upgradeState is what pid's state file says, beside the pidfile or,
// while an upgrade runs, beside PIDFILE.oldbin.
func upgradeState(pidfile string, pid int) process.DaemonState {
	for _, p := range []string{pidfile + process.OldbinSuffix, pidfile} {
		if st, err := process.ReadState(p); err == nil && st.PID == pid {
			return st
		}
	}
	return process.DaemonState{}
}
