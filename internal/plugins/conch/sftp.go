package conch

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/pkg/sftp"
	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"
)

// sftpChildEnv marks the child process that serves one SFTP session as
// the logged-in user, when twistd runs as root: twistd's own executable,
// started (as root, so that it may be executed from wherever it lies)
// with this variable set to UID:GID:GROUP,GROUP..., drops to that user,
// goes to its home (sftpHomeEnv), serves SFTP on its standard input and
// output, and exits (see init). The child has only the user's rights, so
// SFTP reaches exactly what the user's shell would, as with sshd's
// sftp-server. Anyone may start it so, to no gain: only root can become
// another user, and the child serves nothing but its own stdin.
const (
	sftpChildEnv = "TWISTD_CONCH_SFTP_CHILD"
	sftpHomeEnv  = "TWISTD_CONCH_SFTP_HOME"
)

// sftpMaxPacket is the largest SFTP data packet we send (OpenSSH's is
// 32 KiB; pkg/sftp's default too).
const sftpMaxPacket = 32768

// sftpReadBuffer is read ahead of the SFTP server, which reads each
// packet's length and body separately: without it every small read is a
// system call (the child's pipe) or an SSH window adjustment (in process).
const sftpReadBuffer = 256 << 10

func init() {
	if os.Getenv(sftpChildEnv) != "" {
		os.Exit(runSFTPChild())
	}
}

// Bulk-transfer sizes of the SFTP child's pipes (see startSFTPPipes).
const (
	// sftpPipeSize is asked of the kernel for each pipe (F_SETPIPE_SZ;
	// 64 KiB by default): the child and the server each run through a
	// megabyte before the other must be woken, instead of two 32 KiB
	// packets.
	sftpPipeSize = 1 << 20
	// sftpCopyBuffer is each copy's buffer between the channel and a
	// pipe: one read takes whatever the pipe or the channel holds, up to
	// eight packets, with one system call.
	sftpCopyBuffer = 256 << 10
)

// sftpServerOptions are pkg/sftp's options, in the child and in process.
// Its allocator reuses the packet buffers instead of allocating 32 KiB
// per packet (measured with the child's runtime settings, which are the
// process's Env.HelperEnv: internal/cli/knobs.go).
func sftpServerOptions(wd string) []sftp.ServerOption {
	return []sftp.ServerOption{sftp.WithServerWorkingDirectory(wd), sftp.WithMaxTxPacket(sftpMaxPacket), sftp.WithAllocator()}
}

// stdio is the child's standard input and output as one stream.
type stdio struct {
	io.Reader
	io.WriteCloser
}

// runSFTPChild becomes the user, serves SFTP on stdin/stdout starting
// in the user's home, and returns the exit code.
func runSFTPChild() int {
	if err := becomeUser(os.Getenv(sftpChildEnv)); err != nil {
		fmt.Fprintln(os.Stderr, "twistd sftp:", err)
		return 1
	}
	wd := os.Getenv(sftpHomeEnv)
	if wd == "" || os.Chdir(wd) != nil {
		wd = "/"
		_ = os.Chdir(wd)
	}
	out, err := newPacketWriter(os.Stdout)
	if err != nil {
		return 1
	}
	in := bufio.NewReaderSize(replyGatherer{os.Stdin, out}, sftpReadBuffer)
	srv, err := sftp.NewServer(stdio{in, out}, sftpServerOptions(wd)...)
	if err != nil {
		return 1
	}
	if err := srv.Serve(); err != nil && err != io.EOF {
		_ = srv.Close()
		return 1
	}
	_ = srv.Close()
	return 0
}

// becomeUser drops to UID:GID:GROUPS (groups comma-separated) and checks
// there is no way back.
func becomeUser(cred string) error {
	f := strings.Split(cred, ":")
	if len(f) != 3 {
		return fmt.Errorf("%s=%q: want UID:GID:GROUPS", sftpChildEnv, cred)
	}
	uid, err1 := strconv.Atoi(f[0])
	gid, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || uid < 0 || gid < 0 {
		return fmt.Errorf("%s=%q: bad uid or gid", sftpChildEnv, cred)
	}
	var groups []int
	for _, g := range strings.Split(f[2], ",") {
		if g == "" {
			continue
		}
		n, err := strconv.Atoi(g)
		if err != nil || n < 0 {
			return fmt.Errorf("%s=%q: bad group", sftpChildEnv, cred)
		}
		groups = append(groups, n)
	}
	if os.Geteuid() == uid && os.Getegid() == gid && uid != 0 {
		return nil // already the user
	}
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("setgid %d: %w", gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("setuid %d: %w", uid, err)
	}
	if uid != 0 && syscall.Setuid(0) == nil {
		return errors.New("could become root again after setuid")
	}
	if os.Getuid() != uid || os.Geteuid() != uid || os.Getgid() != gid {
		return fmt.Errorf("still uid %d gid %d after dropping to %d:%d", os.Geteuid(), os.Getegid(), uid, gid)
	}
	return nil
}

// childCredential is the sftpChildEnv value for a.
func childCredential(a *account) string {
	gs := make([]string, len(a.Groups))
	for i, g := range a.Groups {
		gs[i] = strconv.FormatUint(uint64(g), 10)
	}
	return fmt.Sprintf("%d:%d:%s", a.UID, a.GID, strings.Join(gs, ","))
}

// serveSFTPInProcess serves SFTP in our own process: only when we are
// not root, so we have exactly the rights of the one user who may log in.
func (s *session) serveSFTPInProcess(dir string) {
	defer close(s.done)
	defer s.endBulk()
	// The replies go out through a pipe, as a child's would: many small
	// status replies then leave in one SSH packet, not one packet each.
	pr, pw, err := os.Pipe()
	if err != nil {
		s.log.Warn("sftp refused", zap.Error(err))
		_ = s.ch.Close()
		return
	}
	out, err := newPacketWriter(pw)
	if err != nil {
		_ = pr.Close()
		_ = pw.Close()
		s.log.Warn("sftp refused", zap.Error(err))
		_ = s.ch.Close()
		return
	}
	growPipe(pr, sftpPipeSize)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.CopyBuffer(struct{ io.Writer }{s.ch}, pr, make([]byte, sftpCopyBuffer))
		_ = pr.Close()
	}()
	in := bufio.NewReaderSize(replyGatherer{s.ch, out}, sftpReadBuffer)
	srv, err := sftp.NewServer(stdio{in, out}, sftpServerOptions(dir)...)
	status := uint32(0)
	if err == nil {
		if err = srv.Serve(); err == io.EOF {
			err = nil
		}
		_ = srv.Close()
	}
	_ = out.Close()
	<-copied
	if err != nil {
		status = 1
		s.log.Debug("sftp session ended", zap.Error(err))
	}
	_, _ = s.ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
	_ = s.ch.Close()
}
