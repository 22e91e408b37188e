package conch

import (
	"io"
	"os"

	"github.com/pkg/sftp"
	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"
)

// sftpChildEnv marks the child process that serves one SFTP session as
// the logged-in user, when twistd runs as root: twistd's own executable,
// started with this variable set, serves SFTP on its standard input and
// output and exits (see init). The child has only the user's rights, so
// SFTP reaches exactly what the user's shell would, as with sshd's
// sftp-server. Anyone may start it so, to no gain: it serves only its
// own stdin as its own user.
const sftpChildEnv = "TWISTD_CONCH_SFTP_CHILD"

// sftpMaxPacket is the largest SFTP data packet we send (OpenSSH's is
// 32 KiB; pkg/sftp's default too).
const sftpMaxPacket = 32768

func init() {
	if os.Getenv(sftpChildEnv) == "1" {
		os.Exit(runSFTPChild())
	}
}

// stdio is the child's standard input and output as one stream.
type stdio struct {
	io.Reader
	io.WriteCloser
}

// runSFTPChild serves SFTP on stdin/stdout, starting in the working
// directory (the user's home), and returns the exit code.
func runSFTPChild() int {
	wd, err := os.Getwd()
	if err != nil {
		wd = "/"
	}
	srv, err := sftp.NewServer(stdio{os.Stdin, os.Stdout}, sftp.WithServerWorkingDirectory(wd), sftp.WithMaxTxPacket(sftpMaxPacket))
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

// serveSFTPInProcess serves SFTP in our own process: only when we are
// not root, so we have exactly the rights of the one user who may log in.
func (s *session) serveSFTPInProcess(dir string) {
	defer close(s.done)
	srv, err := sftp.NewServer(s.ch, sftp.WithServerWorkingDirectory(dir), sftp.WithMaxTxPacket(sftpMaxPacket))
	status := uint32(0)
	if err == nil {
		if err = srv.Serve(); err == io.EOF {
			err = nil
		}
		_ = srv.Close()
	}
	if err != nil {
		status = 1
		s.log.Debug("sftp session ended", zap.Error(err))
	}
	_, _ = s.ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
	_ = s.ch.Close()
}
