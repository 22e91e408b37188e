package process

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// openerEnv marks the process started by StartOpener: the binary run
// again with this variable set and its socket on descriptor 3 serves
// RunOpener and nothing else.
const openerEnv = "TWISTD_LOG_OPENER"

// openerTimeout bounds one request to the opener.
const openerTimeout = 5 * time.Second

// Opener opens log files for appending (and removes the pidfile) with the rights the process had
// when it started, after it switched users or went into a chroot: nginx
// keeps a root master for this, twistd a small process of its own,
// started before the switch, that only opens the paths it was told of
// before Seal and passes the descriptor back (SCM_RIGHTS). So SIGUSR1
// reopens a log that logrotate recreated for root, and a log named by
// its path on the host is found from inside a chroot. Its methods are
// safe for concurrent use.
type Opener struct {
	mu   sync.Mutex
	conn *net.UnixConn // nil until Start
	cmd  *exec.Cmd
	// allow and remove are what Allow and AllowRemove were told before
	// Start, sent to the process when it starts.
	allow, remove []string
}

// IsOpener reports whether this process is an opener started by
// Start; main then runs RunOpener instead of the command line.
func IsOpener() bool { return os.Getenv(openerEnv) == "1" }

// errNotStarted is OpenAppend's and Remove's answer before Start.
var errNotStarted = errors.New("log opener: not started")

// NewOpener returns an opener not started yet: the paths Allow and
// AllowRemove are given wait for Start, and until then OpenAppend fails
// (its callers open the file themselves). So files can be named while an
// application is loaded, before the process knows whether it will switch
// users at all.
func NewOpener() *Opener { return &Opener{} }

// StartOpener returns an opener already started.
func StartOpener() (*Opener, error) {
	o := NewOpener()
	if err := o.Start(); err != nil {
		return nil, err
	}
	return o, nil
}

// Started reports whether Start ran.
func (o *Opener) Started() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.conn != nil
}

// Start starts the opener process and tells it of the paths allowed so
// far. Call it while the process still has the rights the opener is to
// keep; then Seal before giving them up.
func (o *Opener) Start() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("log opener: %w", err)
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return fmt.Errorf("log opener: socketpair: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "opener"), os.NewFile(uintptr(fds[1]), "opener")
	defer theirs.Close()
	syscall.CloseOnExec(fds[0])
	cmd := exec.Command(exe)
	cmd.Env = []string{openerEnv + "=1"}
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.Dir = "/"
	if err := cmd.Start(); err != nil {
		ours.Close()
		return fmt.Errorf("log opener: start %s: %w", exe, err)
	}
	c, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("log opener: %w", err)
	}
	o.mu.Lock()
	o.conn, o.cmd = c.(*net.UnixConn), cmd
	allow, remove := o.allow, o.remove
	o.allow, o.remove = nil, nil
	o.mu.Unlock()
	for _, p := range allow {
		if _, err := o.ask("allow", p); err != nil {
			return err
		}
	}
	for _, p := range remove {
		if _, err := o.ask("allow-remove", p); err != nil {
			return err
		}
	}
	return nil
}

// Allow lets the opener open paths (made absolute) from now on. It fails
// after Seal.
func (o *Opener) Allow(paths ...string) error { return o.tell("allow", &o.allow, paths) }

// AllowRemove lets the opener remove paths (made absolute) from now on:
// the pidfile and its state file, in a directory only root may write.
// It fails after Seal.
func (o *Opener) AllowRemove(paths ...string) error {
	return o.tell("allow-remove", &o.remove, paths)
}

// tell tells the opener of paths with verb, or keeps them in pending
// until Start.
func (o *Opener) tell(verb string, pending *[]string, paths []string) error {
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return fmt.Errorf("log opener: %w", err)
		}
		if o.queue(pending, abs) {
			continue
		}
		if _, err := o.ask(verb, abs); err != nil {
			return err
		}
	}
	return nil
}

// Remove removes an allowed path as the opener; a missing file is no error.
func (o *Opener) Remove(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	_, err = o.ask("remove", abs)
	return err
}

// Seal ends Allow: from now on the opener opens only the paths allowed so
// far, whatever this process asks.
func (o *Opener) Seal() error {
	_, err := o.ask("seal", "")
	return err
}

// OpenAppend opens an allowed path for appending, creating it if need be,
// as the opener: a regular file with one link, never through a symbolic
// link. A path that was not allowed is refused with ErrNotAllowed.
func (o *Opener) OpenAppend(path string) (*os.File, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	f, err := o.ask("open", abs)
	if err != nil {
		return nil, err
	}
	if f == nil {
		return nil, fmt.Errorf("log opener: open %s: no descriptor came back", abs)
	}
	return f, nil
}

// OpenAppendMode is OpenAppend with the permissions a file it creates
// gets (a file that exists keeps its own).
func (o *Opener) OpenAppendMode(path string, mode os.FileMode) (*os.File, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	f, err := o.ask("open-mode", fmt.Sprintf("%04o %s", mode.Perm(), abs))
	if err != nil {
		return nil, err
	}
	if f == nil {
		return nil, fmt.Errorf("log opener: open %s: no descriptor came back", abs)
	}
	return f, nil
}

// queue keeps path in list while the opener is not started; false once
// it is.
func (o *Opener) queue(list *[]string, path string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.conn != nil {
		return false
	}
	*list = append(*list, path)
	return true
}

// ErrNotAllowed is the opener's answer for a path it was not told of
// before Seal.
var ErrNotAllowed = errors.New("not a log file the opener was given before the switch")

// Close stops the opener, if it was started, and waits for it to exit.
func (o *Opener) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.conn == nil {
		return nil
	}
	o.conn.Close()
	done := make(chan error, 1)
	go func() { done <- o.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(openerTimeout):
		o.cmd.Process.Kill()
		return <-done
	}
}

// ask sends one request and reads its answer: "ok", with a descriptor
// for an open, or "err" and why.
func (o *Opener) ask(verb, arg string) (*os.File, error) {
	if strings.ContainsAny(arg, "\n\x00") {
		return nil, fmt.Errorf("log opener: %q: a path with a newline or NUL", arg)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.conn == nil {
		if verb == "seal" {
			return nil, nil
		}
		return nil, errNotStarted
	}
	o.conn.SetDeadline(time.Now().Add(openerTimeout))
	if _, err := o.conn.Write([]byte(verb + " " + arg + "\n")); err != nil {
		return nil, fmt.Errorf("log opener: %w", err)
	}
	var answer []byte
	var file *os.File
	buf, oob := make([]byte, 4096), make([]byte, syscall.CmsgSpace(4))
	for !bytes.HasSuffix(answer, []byte("\n")) {
		n, oobn, _, _, err := o.conn.ReadMsgUnix(buf, oob)
		if oobn > 0 {
			if f := takeFile(oob[:oobn], arg); f != nil {
				file = f
			}
		}
		if err != nil {
			if file != nil {
				file.Close()
			}
			return nil, fmt.Errorf("log opener: %w", err)
		}
		answer = append(answer, buf[:n]...)
		if len(answer) > len(buf) {
			break
		}
	}
	reply := strings.TrimSpace(string(answer))
	if reply == "ok" {
		return file, nil
	}
	if file != nil {
		file.Close()
	}
	why := strings.TrimPrefix(reply, "err ")
	if why == ErrNotAllowed.Error() {
		return nil, fmt.Errorf("%s %s: %w", verb, arg, ErrNotAllowed)
	}
	return nil, fmt.Errorf("log opener: %s %s: %s", verb, arg, why)
}

// takeFile is the descriptor passed in a control message, if any.
func takeFile(oob []byte, name string) *os.File {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var f *os.File
	for _, m := range msgs {
		fds, err := syscall.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			syscall.CloseOnExec(fd)
			if f == nil {
				f = os.NewFile(uintptr(fd), name)
			} else {
				syscall.Close(fd)
			}
		}
	}
	return f
}

// RunOpener is the opener process: it serves requests on descriptor 3
// until the other end closes, and returns the exit code. Signals meant
// for the process group (a terminal's ^C, a stop) are the main process's
// to handle: the opener ends when it does.
func RunOpener() int {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2,
		syscall.SIGQUIT, syscall.SIGPIPE)
	c, err := net.FileConn(os.NewFile(3, "opener"))
	if err != nil {
		return 1
	}
	conn := c.(*net.UnixConn)
	defer conn.Close()
	s := opener{allowed: map[string]bool{}, removable: map[string]bool{}}
	in := bufio.NewReaderSize(conn, 8192)
	for {
		line, err := in.ReadString('\n')
		if err != nil {
			return 0 // the process it served is gone
		}
		verb, arg, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
		f, err := s.serve(verb, arg)
		reply, oob := []byte("ok\n"), []byte(nil)
		if err != nil {
			reply = []byte("err " + strings.ReplaceAll(err.Error(), "\n", " ") + "\n")
		} else if f != nil {
			oob = syscall.UnixRights(int(f.Fd()))
		}
		_, _, werr := conn.WriteMsgUnix(reply, oob, nil)
		if f != nil {
			f.Close()
		}
		if werr != nil {
			return 1
		}
	}
}

// opener is the opener process's state.
type opener struct {
	allowed, removable map[string]bool
	sealed             bool
}

func (s *opener) serve(verb, arg string) (*os.File, error) {
	switch verb {
	case "allow", "allow-remove":
		if s.sealed {
			return nil, errors.New("sealed")
		}
		if !filepath.IsAbs(arg) {
			return nil, errors.New("not an absolute path")
		}
		set := s.allowed
		if verb == "allow-remove" {
			set = s.removable
		}
		set[filepath.Clean(arg)] = true
		return nil, nil
	case "remove":
		if !s.removable[filepath.Clean(arg)] {
			return nil, ErrNotAllowed
		}
		if err := os.Remove(arg); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		return nil, nil
	case "seal":
		s.sealed = true
		return nil, nil
	case "open":
		if !s.allowed[filepath.Clean(arg)] {
			return nil, ErrNotAllowed
		}
		return openLog(arg, 0o644)
	case "open-mode":
		m, path, _ := strings.Cut(arg, " ")
		mode, err := strconv.ParseUint(m, 8, 32)
		if err != nil || mode&^0o777 != 0 {
			return nil, fmt.Errorf("bad mode %q", m)
		}
		if !s.allowed[filepath.Clean(path)] {
			return nil, ErrNotAllowed
		}
		return openLog(path, uint32(mode))
	}
	return nil, fmt.Errorf("unknown request %q", verb)
}

// openLog opens path for appending, refusing anything but a regular file
// with one link, so that no link planted in a writable directory can
// make the opener append to another file.
func openLog(path string, mode uint32) (*os.File, error) {
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_APPEND|syscall.O_CREAT|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, mode)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Nlink != 1 {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file with one link", path)
	}
	return f, nil
}
