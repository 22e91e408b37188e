package conch

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"
)

// Bounds on what a client's session requests may ask for.
const (
	maxEnv      = 64
	maxEnvName  = 256
	maxEnvValue = 16 << 10
	maxTerm     = 64
	// outputGrace is how long a session's output may keep flowing after
	// its process exits (a background child holding the terminal).
	outputGrace = time.Second
)

// signals are the signal names of RFC 4254 §6.10, without SIG.
var signals = map[string]syscall.Signal{
	"ABRT": syscall.SIGABRT, "ALRM": syscall.SIGALRM, "FPE": syscall.SIGFPE,
	"HUP": syscall.SIGHUP, "ILL": syscall.SIGILL, "INT": syscall.SIGINT,
	"KILL": syscall.SIGKILL, "PIPE": syscall.SIGPIPE, "QUIT": syscall.SIGQUIT,
	"SEGV": syscall.SIGSEGV, "TERM": syscall.SIGTERM, "USR1": syscall.SIGUSR1,
	"USR2": syscall.SIGUSR2,
}

func signalName(sig syscall.Signal) string {
	for n, s := range signals {
		if s == sig {
			return n
		}
	}
	return fmt.Sprintf("SIG%d@twistd", int(sig))
}

// session is one session channel: at most one program (shell, command
// or subsystem) runs in it.
type session struct {
	c   *conn
	ch  ssh.Channel
	log *zap.Logger

	env   []string
	term  string
	win   *pty.Winsize // set by pty-req
	modes []byte       // pty-req's terminal modes

	mu      sync.Mutex
	started bool
	cmd     *exec.Cmd
	ptmx    *os.File
	done    chan struct{} // closed when the program is reaped and the exit sent
	// endBulk ends the bulk transfer an SFTP session is (Env.StartBulk)
	// once the session is over; nil for other sessions.
	endBulk func()
}

func newSession(c *conn, ch ssh.Channel) *session {
	return &session{c: c, ch: ch, log: c.log, done: make(chan struct{})}
}

// serve answers the channel's requests until the client closes it (or
// the connection ends), then hangs up on the program and reaps it.
func (s *session) serve(reqs <-chan *ssh.Request) {
	for r := range reqs {
		ok := s.request(r)
		if r.WantReply {
			_ = r.Reply(ok, nil)
		}
	}
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started {
		_ = s.ch.Close()
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	s.hangup()
}

// hangup sends SIGHUP to the program's process group, SIGKILL after
// killGrace, and waits (bounded) for the reaper.
func (s *session) hangup() {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGHUP)
		_ = cmd.Process.Signal(syscall.SIGHUP)
	}
	select {
	case <-s.done:
		return
	case <-time.After(killGrace):
	}
	if cmd != nil && cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Process.Kill()
	}
	select {
	case <-s.done:
	case <-time.After(killGrace):
		s.log.Warn("session program not ended after SIGKILL")
	}
}

func (s *session) request(r *ssh.Request) bool {
	switch r.Type {
	case "env":
		var m struct{ Name, Value string }
		if ssh.Unmarshal(r.Payload, &m) != nil || len(s.env) >= maxEnv ||
			len(m.Name) > maxEnvName || len(m.Value) > maxEnvValue || !s.acceptEnv(m.Name) {
			return false
		}
		s.env = append(s.env, m.Name+"="+m.Value)
		return true
	case "pty-req":
		var m struct {
			Term                      string
			Cols, Rows, Width, Height uint32
			Modes                     string
		}
		if ssh.Unmarshal(r.Payload, &m) != nil || s.isStarted() {
			return false
		}
		if _, no := s.c.sc.Permissions.Extensions[extNoPTY]; no {
			s.log.Info("pty refused: no-pty in authorized_keys")
			return false
		}
		s.term = cleanTerm(m.Term)
		s.win = winsize(m.Cols, m.Rows, m.Width, m.Height)
		s.modes = []byte(m.Modes)
		return true
	case "window-change":
		var m struct{ Cols, Rows, Width, Height uint32 }
		if ssh.Unmarshal(r.Payload, &m) != nil {
			return false
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.ptmx == nil {
			if s.win != nil {
				s.win = winsize(m.Cols, m.Rows, m.Width, m.Height)
			}
			return s.win != nil
		}
		return pty.Setsize(s.ptmx, winsize(m.Cols, m.Rows, m.Width, m.Height)) == nil
	case "shell":
		return s.start("shell", "", false)
	case "exec":
		var m struct{ Command string }
		if ssh.Unmarshal(r.Payload, &m) != nil {
			return false
		}
		return s.start("exec", m.Command, false)
	case "subsystem":
		var m struct{ Name string }
		if ssh.Unmarshal(r.Payload, &m) != nil || m.Name != "sftp" || (s.c.s.opts.SFTP != nil && !*s.c.s.opts.SFTP) {
			s.log.Info("subsystem refused", zap.String("subsystem", m.Name))
			return false
		}
		return s.start("sftp", "", true)
	case "signal":
		var m struct{ Signal string }
		if ssh.Unmarshal(r.Payload, &m) != nil {
			return false
		}
		sig, ok := signals[m.Signal]
		s.mu.Lock()
		cmd := s.cmd
		s.mu.Unlock()
		if !ok || cmd == nil || cmd.Process == nil {
			return false
		}
		return cmd.Process.Signal(sig) == nil
	case "auth-agent-req@openssh.com", "x11-req":
		s.log.Debug("refused", zap.String("request", r.Type))
		return false
	}
	return false
}

func (s *session) isStarted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

func (s *session) acceptEnv(name string) bool {
	if name == "" || strings.ContainsAny(name, "=\x00") {
		return false
	}
	for _, p := range s.c.s.opts.AcceptEnv {
		if ok, _ := filepath.Match(p, name); ok {
			return true
		}
	}
	return false
}

// cleanTerm keeps a TERM name that is a plain word.
func cleanTerm(t string) string {
	if len(t) > maxTerm {
		return "dumb"
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.+", c)) {
			return "dumb"
		}
	}
	if t == "" {
		return "dumb"
	}
	return t
}

func winsize(cols, rows, w, h uint32) *pty.Winsize {
	clamp := func(v uint32) uint16 { return uint16(min(v, 0xffff)) }
	return &pty.Winsize{Cols: clamp(cols), Rows: clamp(rows), X: clamp(w), Y: clamp(h)}
}

// environ is the program's environment: a clean one, as sshd's.
func (s *session) environ(original string, forced bool) []string {
	a := s.c.acct
	path := "/usr/local/bin:/usr/bin:/bin"
	if a.UID == 0 {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	env := append([]string(nil), s.env...)
	ph, pp := splitAddr(s.c.sc.RemoteAddr())
	lh, lp := splitAddr(s.c.sc.LocalAddr())
	env = append(env,
		"HOME="+a.Home, "USER="+a.Name, "LOGNAME="+a.Name, "SHELL="+a.Shell, "PATH="+path,
		"SSH_CLIENT="+ph+" "+pp+" "+lp,
		"SSH_CONNECTION="+ph+" "+pp+" "+lh+" "+lp)
	if s.win != nil {
		env = append(env, "TERM="+s.term)
	}
	if forced {
		env = append(env, "SSH_ORIGINAL_COMMAND="+original)
	}
	return env
}

// start runs the session's program: the shell, a command, or the SFTP
// server.
func (s *session) start(kind, command string, sftp bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return false
	}
	a := s.c.acct
	forced, isForced := s.c.sc.Permissions.Extensions[extCommand]
	original := command
	if isForced {
		if forced == "internal-sftp" {
			sftp, kind = true, "sftp"
		} else {
			command, sftp, kind = forced, false, "exec"
		}
	}
	dir := a.Home
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		dir = "/"
	}
	if sftp && os.Geteuid() != 0 {
		s.started = true
		s.c.s.chans.WithLabelValues(s.c.s.name, "sftp").Inc()
		s.log.Info("session", zap.String("kind", "sftp"))
		s.endBulk = s.c.s.env.StartBulk()
		go s.serveSFTPInProcess(dir)
		return true
	}
	var cmd *exec.Cmd
	switch {
	case sftp:
		if s.c.s.exe == "" {
			s.log.Error("sftp refused: cannot find our own executable to run the SFTP server as the user")
			return false
		}
		cmd = exec.Command(s.c.s.exe)
		cmd.Args = []string{"twistd-sftp-server"}
	case command != "":
		cmd = exec.Command(a.Shell, "-c", command)
	default:
		cmd = exec.Command(a.Shell)
		cmd.Args = []string{"-" + filepath.Base(a.Shell)}
	}
	cmd.Dir = dir
	cmd.Env = s.environ(original, isForced)
	attr := &syscall.SysProcAttr{Setsid: true}
	switch {
	case sftp:
		// Executed as root, wherever our executable lies; it drops to
		// the user itself before it reads a byte from the client.
		// The runtime settings of such a helper are the process's
		// (Env.HelperEnv), after the session's: the last one counts.
		cmd.Env = append(cmd.Env, sftpChildEnv+"="+childCredential(a), sftpHomeEnv+"="+dir)
		cmd.Env = append(cmd.Env, s.c.s.helperEnv...)
		cmd.Dir = "/"
	case os.Geteuid() == 0:
		attr.Credential = &syscall.Credential{Uid: a.UID, Gid: a.GID, Groups: a.Groups}
	}
	cmd.SysProcAttr = attr
	var err error
	usePTY := s.win != nil && !sftp
	if usePTY {
		err = s.startPTY(cmd)
	} else if sftp {
		s.endBulk = s.c.s.env.StartBulk()
		if err = s.startSFTPPipes(cmd); err != nil {
			s.endBulk()
			s.endBulk = nil
		}
	} else {
		err = s.startPipes(cmd)
	}
	if err != nil {
		s.log.Warn("session refused: cannot start the program", zap.String("kind", kind), zap.Error(err))
		return false
	}
	s.started, s.cmd = true, cmd
	s.c.s.chans.WithLabelValues(s.c.s.name, kind).Inc()
	fields := []zap.Field{zap.String("kind", kind), zap.Int("pid", cmd.Process.Pid), zap.Bool("pty", usePTY)}
	if kind == "exec" {
		fields = append(fields, zap.String("command", command))
	}
	s.log.Info("session", fields...)
	return true
}

func (s *session) startPipes(cmd *exec.Cmd) error {
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = s.ch
	cmd.Stderr = s.ch.Stderr()
	// Output still held open by a background child after the program
	// exits is cut off this long after.
	cmd.WaitDelay = outputGrace
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() {
		// The client's EOF (ssh -n, the end of a piped input) closes the
		// program's stdin.
		_, _ = io.Copy(in, s.ch)
		_ = in.Close()
	}()
	go func() {
		err := cmd.Wait()
		_ = in.Close()
		s.exit(cmd, err)
	}()
	return nil
}

// startSFTPPipes runs the SFTP child on two pipes of ours, sized for
// bulk transfers (sftpPipeSize) and copied in big pieces
// (sftpCopyBuffer): against exec's own pipes and 32 KiB copies, the
// server's CPU per GiB downloaded fell by about a fifth in bench/sftp.sh.
func (s *session) startSFTPPipes(cmd *exec.Cmd) error {
	inR, inW, err := os.Pipe()
	if err != nil {
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return err
	}
	growPipe(inW, sftpPipeSize)
	growPipe(outR, sftpPipeSize)
	cmd.Stdin, cmd.Stdout = inR, outW
	cmd.Stderr = s.ch.Stderr()
	cmd.WaitDelay = outputGrace
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return err
	}
	go func() {
		buf := make([]byte, sftpCopyBuffer)
		_, _ = io.CopyBuffer(inW, struct{ io.Reader }{s.ch}, buf)
		_ = inW.Close()
	}()
	out := make(chan struct{})
	go func() {
		defer close(out)
		buf := make([]byte, sftpCopyBuffer)
		_, _ = io.CopyBuffer(struct{ io.Writer }{s.ch}, outR, buf)
	}()
	go func() {
		err := cmd.Wait()
		_ = inW.Close()
		select {
		case <-out:
		case <-time.After(outputGrace):
		}
		_ = outR.Close()
		<-out
		s.exit(cmd, err)
	}()
	return nil
}

func (s *session) startPTY(cmd *exec.Cmd) error {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return err
	}
	defer tty.Close()
	a := s.c.acct
	if os.Geteuid() == 0 {
		// The terminal belongs to the user, as sshd leaves it (mode 0620).
		_ = tty.Chown(int(a.UID), int(a.GID))
		_ = tty.Chmod(0o620)
	}
	if err := applyModes(tty, s.modes); err != nil {
		s.log.Debug("terminal modes not applied", zap.Error(err))
	}
	if err := pty.Setsize(ptmx, s.win); err != nil {
		_ = ptmx.Close()
		return err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr.Setctty = true
	cmd.SysProcAttr.Ctty = 0
	if err := cmd.Start(); err != nil {
		_ = ptmx.Close()
		return err
	}
	s.ptmx = ptmx
	out := make(chan struct{})
	go func() {
		_, _ = io.Copy(s.ch, ptmx)
		close(out)
	}()
	go func() { _, _ = io.Copy(ptmx, s.ch) }()
	go func() {
		err := cmd.Wait()
		select {
		case <-out:
		case <-time.After(outputGrace):
		}
		s.mu.Lock()
		_ = ptmx.Close()
		s.ptmx = nil
		s.mu.Unlock()
		<-out
		s.exit(cmd, err)
	}()
	return nil
}

// exit reports the program's end to the client and closes the channel.
func (s *session) exit(cmd *exec.Cmd, err error) {
	defer close(s.done)
	if s.endBulk != nil {
		defer s.endBulk()
	}
	st := cmd.ProcessState
	if st == nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			st = ee.ProcessState
		}
	}
	if st != nil {
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			_, _ = s.ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
				Signal     string
				CoreDumped bool
				Error      string
				Lang       string
			}{signalName(ws.Signal()), ws.CoreDump(), "", ""}))
		} else {
			_, _ = s.ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(st.ExitCode())}))
		}
	}
	_ = s.ch.CloseWrite()
	_ = s.ch.Close()
}

// splitAddr is an address's host and port, as SSH_CONNECTION writes them.
func splitAddr(a net.Addr) (string, string) {
	h, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String(), "0"
	}
	return h, p
}
