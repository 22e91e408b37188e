package exec

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// DefaultPath is the PATH a program gets when env: does not give one
// (and where a command without a slash is looked for).
const DefaultPath = "/usr/local/bin:/usr/bin:/bin"

// maxLine bounds one line a program writes to its stderr (or stdout under
// procmon): longer ones are cut into lines of this length.
const maxLine = 4 << 10

// Identity is whom a program runs as: user and group names or numbers as
// written (both empty: as twistd runs).
type Identity struct {
	User, Group string
}

// Credential looks the identity up: nil when it is empty. The group is
// the user's primary group unless Group says otherwise; the user's
// supplementary groups come along, as login would give them.
func (id Identity) Credential() (*syscall.Credential, error) {
	if id.User == "" && id.Group == "" {
		return nil, nil
	}
	cred := &syscall.Credential{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
	if id.User != "" {
		u, err := lookupUser(id.User)
		if err != nil {
			return nil, err
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		cred.Uid, cred.Gid = uint32(uid), uint32(gid)
		if gids, err := u.GroupIds(); err == nil {
			for _, g := range gids {
				if n, err := strconv.ParseUint(g, 10, 32); err == nil {
					cred.Groups = append(cred.Groups, uint32(n))
				}
			}
		}
	}
	if id.Group != "" {
		g, err := lookupGroup(id.Group)
		if err != nil {
			return nil, err
		}
		gid, _ := strconv.ParseUint(g.Gid, 10, 32)
		cred.Gid = uint32(gid)
	}
	if id.User == "" {
		cred.Groups = []uint32{cred.Gid}
	}
	return cred, nil
}

func lookupUser(name string) (*user.User, error) {
	u, err := user.Lookup(name)
	if err == nil {
		return u, nil
	}
	if _, nerr := strconv.ParseUint(name, 10, 32); nerr == nil {
		if u, err := user.LookupId(name); err == nil {
			return u, nil
		}
		return &user.User{Uid: name, Gid: name, Username: name}, nil
	}
	return nil, fmt.Errorf("user %q: no such user", name)
}

func lookupGroup(name string) (*user.Group, error) {
	g, err := user.LookupGroup(name)
	if err == nil {
		return g, nil
	}
	if _, nerr := strconv.ParseUint(name, 10, 32); nerr == nil {
		return &user.Group{Gid: name, Name: name}, nil
	}
	return nil, fmt.Errorf("group %q: %w", name, errNoGroup)
}

// errNoGroup is a group lookup's failure (for pointing at the group: key).
var errNoGroup = errors.New("no such group")

// ResolveProgram finds the program a command names: a path with a slash
// is taken relative to dir (the application file's directory), a bare
// name is looked for in path. It must be an executable regular file.
func ResolveProgram(prog, dir, path string) (string, error) {
	if prog == "" {
		return "", errors.New("empty program name")
	}
	if !strings.Contains(prog, "/") {
		for _, d := range filepath.SplitList(path) {
			if d == "" || !filepath.IsAbs(d) {
				continue
			}
			p := filepath.Join(d, prog)
			if executable(p) == nil {
				return p, nil
			}
		}
		return "", fmt.Errorf("%q: not found in PATH %s", prog, path)
	}
	p := prog
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	if err := executable(p); err != nil {
		return "", fmt.Errorf("%q: %w", prog, err)
	}
	return p, nil
}

func executable(p string) error {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return errors.New("no such file")
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return errors.New("not a regular file")
	case fi.Mode().Perm()&0o111 == 0:
		return errors.New("not executable")
	}
	return nil
}

// Environ is a program's whole environment: extra (TCPREMOTEIP and the
// like) and env, with PATH defaulted; nothing of twistd's own.
func Environ(env map[string]string, extra ...string) []string {
	out := append([]string(nil), extra...)
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+env[k])
	}
	if _, ok := env["PATH"]; !ok {
		out = append(out, "PATH="+DefaultPath)
	}
	return out
}

// PathOf is the PATH a program with env gets.
func PathOf(env map[string]string) string {
	if p, ok := env["PATH"]; ok {
		return p
	}
	return DefaultPath
}

// Lines a service logs from its programs' output: LineRate a second on
// average, LineBurst at once; beyond, lines are dropped and the next line
// logged says how many.
const (
	LineRate  = 200
	LineBurst = 1000
)

// LineLimit bounds the output lines one service logs, whatever its
// programs write (a client can make a program write). The zero value is
// ready; a nil *LineLimit admits every line.
type LineLimit struct {
	mu      sync.Mutex
	tokens  float64
	last    time.Time
	dropped int64
}

// take reports whether a line may be logged now, and how many were
// dropped since the last one logged.
func (l *LineLimit) take(now time.Time) (ok bool, dropped int64) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last.IsZero() {
		l.tokens = LineBurst
	} else {
		l.tokens = min(LineBurst, l.tokens+now.Sub(l.last).Seconds()*LineRate)
	}
	l.last = now
	if l.tokens < 1 {
		l.dropped++
		return false, 0
	}
	l.tokens--
	dropped, l.dropped = l.dropped, 0
	return true, dropped
}

// LogLines logs each line read from r as one log line (message: the
// line) with fields, until r ends, within limit; lines longer than
// maxLine are cut.
func LogLines(r io.Reader, limit *LineLimit, level func(string, ...zap.Field), fields ...zap.Field) {
	logLines(bufio.NewReaderSize(r, maxLine), limit, level, fields...)
}

// logLines is LogLines on a reader of at least maxLine bytes.
func logLines(br *bufio.Reader, limit *LineLimit, level func(string, ...zap.Field), fields ...zap.Field) {
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if ok, dropped := limit.take(time.Now()); ok {
				s := strings.TrimRight(string(line), "\r\n")
				if dropped > 0 {
					level(s, append(fields[:len(fields):len(fields)], zap.Int64("dropped_lines", dropped))...)
				} else {
					level(s, fields...)
				}
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// Command prepares a program: its own process group (so TERM and KILL
// reach what it starts too), the identity, the directory, and on Linux a
// SIGKILL if twistd dies first.
func Command(prog string, args []string, env []string, dir string, cred *syscall.Credential) *osexec.Cmd {
	cmd := &osexec.Cmd{Path: prog, Args: args, Env: env, Dir: dir}
	cmd.SysProcAttr = sysProcAttr(cred)
	return cmd
}

// Signal sends sig to the process group of a program started by Command.
func Signal(p *os.Process, sig syscall.Signal) {
	if p == nil {
		return
	}
	if err := syscall.Kill(-p.Pid, sig); err != nil {
		_ = p.Signal(sig)
	}
}

// signalGroup sends sig to the process group of pid (started in a group
// of its own), or to pid alone when that fails.
func signalGroup(pid int, sig syscall.Signal) {
	if err := syscall.Kill(-pid, sig); err != nil {
		_ = syscall.Kill(pid, sig)
	}
}

// waitStatus describes a wait status as ExitStatus does.
func waitStatus(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "signal " + ws.Signal().String()
	}
	return "exit " + strconv.Itoa(ws.ExitStatus())
}

// ExitStatus describes how a program ended: "exit 3", "signal killed".
func ExitStatus(err error) string {
	if err == nil {
		return "exit 0"
	}
	var ee *osexec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "signal " + ws.Signal().String()
		}
		return "exit " + strconv.Itoa(ee.ExitCode())
	}
	return err.Error()
}
