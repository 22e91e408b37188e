package mail

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// The POP3 server is written here: RFC 1939 is small, and no well-kept Go
// library serves it (the few there are are unmaintained). It reads one
// command line at a time, bounded, with the autologout timer of RFC 1939
// section 3 on every read.

// maxPOP3Line bounds a command line (RFC 2449 allows 255 octets; we take
// a little more for long passwords).
const maxPOP3Line = 1024

// pop3Command is a parsed command line.
type pop3Command struct {
	name string   // upper case
	args []string // at most two for every command we have; PASS keeps the rest whole
}

var errPOP3Syntax = errors.New("syntax error")

// parsePOP3 parses a command line without its CRLF: a keyword of 3 or 4
// letters, then arguments separated by single spaces; PASS takes the
// whole rest of the line (a password may hold spaces).
func parsePOP3(line string) (pop3Command, error) {
	if len(line) > maxPOP3Line {
		return pop3Command{}, errPOP3Syntax
	}
	for i := 0; i < len(line); i++ {
		if c := line[i]; c < 0x20 || c == 0x7f {
			return pop3Command{}, errPOP3Syntax
		}
	}
	name, rest, _ := strings.Cut(line, " ")
	if len(name) < 3 || len(name) > 4 {
		return pop3Command{}, errPOP3Syntax
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return pop3Command{}, errPOP3Syntax
		}
	}
	cmd := pop3Command{name: strings.ToUpper(name)}
	if cmd.name == "PASS" {
		if rest != "" {
			cmd.args = []string{rest}
		}
		return cmd, nil
	}
	if rest == "" {
		return cmd, nil
	}
	cmd.args = strings.Split(rest, " ")
	if len(cmd.args) > 2 {
		return pop3Command{}, errPOP3Syntax
	}
	for _, a := range cmd.args {
		if a == "" || len(a) > 255 {
			return pop3Command{}, errPOP3Syntax
		}
	}
	return cmd, nil
}

// locks are the mailboxes POP3 sessions hold (RFC 1939: exclusive
// access): in this process by a set, against other processes (another
// twistd on the same Maildirs) by flock on the mailbox's .pop3.lock.
type locks struct {
	mu   sync.Mutex
	held map[string]*os.File
}

func (l *locks) take(dir string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.held[dir]; ok {
		return false
	}
	f, err := os.OpenFile(filepath.Join(dir, ".pop3.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return false
	}
	if l.held == nil {
		l.held = map[string]*os.File{}
	}
	l.held[dir] = f
	return true
}

func (l *locks) release(dir string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f, ok := l.held[dir]; ok {
		_ = f.Close() // drops the flock
		delete(l.held, dir)
	}
}

// pop3Session is one POP3 connection.
type pop3Session struct {
	m           *mailService
	conn        net.Conn
	r           *bufio.Reader
	w           *bufio.Writer
	tls         bool
	user        string // USER given
	box         string // locked mailbox: TRANSACTION state
	msgs        []*message
	fails       int
	atLineStart bool // send: the next byte written starts a line
}

// servePOP3 runs a session on c until QUIT, an error or the timeout.
func (m *mailService) servePOP3(c net.Conn, isTLS bool) {
	s := &pop3Session{m: m, conn: c, tls: isTLS, atLineStart: true}
	s.r = bufio.NewReaderSize(c, maxPOP3Line+2)
	s.w = bufio.NewWriter(c)
	defer func() {
		if s.box != "" {
			m.locks.release(s.box)
		}
		_ = c.Close()
	}()
	s.reply("+OK %s POP3 server ready", m.opts.Hostname)
	for {
		_ = s.conn.SetReadDeadline(time.Now().Add(m.opts.POP3Timeout))
		// After the deadline, so that a stop's wake-up cannot be lost.
		if m.stopping.Load() && s.r.Buffered() == 0 {
			s.reply("-ERR [SYS/TEMP] server shutting down")
			return
		}
		line, err := s.readLine()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && m.stopping.Load() {
				s.reply("-ERR [SYS/TEMP] server shutting down")
			} else if errors.Is(err, os.ErrDeadlineExceeded) {
				s.reply("-ERR autologout: idle too long")
			} else if errors.Is(err, errPOP3Syntax) {
				s.reply("-ERR line too long")
			}
			return
		}
		cmd, err := parsePOP3(line)
		if err != nil {
			if !s.error("-ERR syntax error") {
				return
			}
			continue
		}
		if !s.handle(cmd) {
			return
		}
	}
}

// readLine reads a line ending in LF (CRLF or bare LF), at most maxPOP3Line.
func (s *pop3Session) readLine() (string, error) {
	line, err := s.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", errPOP3Syntax
	}
	if err != nil {
		return "", err
	}
	l := strings.TrimRight(string(line), "\r\n")
	return l, nil
}

// reply writes one response line and flushes.
func (s *pop3Session) reply(format string, args ...any) {
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.m.opts.POP3Timeout))
	fmt.Fprintf(s.w, format+"\r\n", args...)
	_ = s.w.Flush()
}

// error replies with msg and counts it; false when the session has had
// too many and is to be closed.
func (s *pop3Session) error(msg string) bool {
	s.fails++
	if s.m.opts.MaxErrors > 0 && s.fails >= s.m.opts.MaxErrors {
		s.reply("-ERR too many errors, closing connection")
		return false
	}
	s.reply("%s", msg)
	return true
}

// handle runs one command; false ends the session.
func (s *pop3Session) handle(cmd pop3Command) bool {
	switch cmd.name {
	case "QUIT":
		return s.quit()
	case "NOOP":
		if s.box == "" {
			return s.error("-ERR not logged in")
		}
		s.reply("+OK")
		return true
	case "CAPA":
		s.reply("+OK capability list follows")
		caps := []string{"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "IMPLEMENTATION twistd"}
		if s.box == "" && s.loginAllowed() {
			caps = append(caps, "USER")
		}
		if s.box == "" && s.m.tls != nil && !s.tls {
			caps = append(caps, "STLS")
		}
		for _, c := range caps {
			fmt.Fprintf(s.w, "%s\r\n", c)
		}
		s.reply(".")
		return true
	}
	if s.box == "" {
		return s.authorization(cmd)
	}
	return s.transaction(cmd)
}

// loginAllowed reports whether USER/PASS may be used now: under TLS, or
// when there is no certificate to offer TLS with, or insecure logins are
// allowed.
func (s *pop3Session) loginAllowed() bool {
	return s.tls || s.m.tls == nil || s.m.opts.AllowInsecureAuth
}

func (s *pop3Session) authorization(cmd pop3Command) bool {
	switch cmd.name {
	case "STLS":
		if s.m.tls == nil || s.tls {
			return s.error("-ERR STLS not available")
		}
		s.reply("+OK begin TLS negotiation")
		if s.r.Buffered() > 0 {
			return false // pipelined plaintext after STLS: an injection attempt
		}
		tc := tls.Server(s.conn, s.m.tls)
		_ = tc.SetDeadline(time.Now().Add(s.m.opts.POP3Timeout))
		if err := tc.Handshake(); err != nil {
			return false
		}
		_ = tc.SetDeadline(time.Time{})
		s.conn, s.tls, s.user = tc, true, ""
		s.r = bufio.NewReaderSize(tc, maxPOP3Line+2)
		s.w = bufio.NewWriter(tc)
		return true
	case "USER":
		if !s.loginAllowed() {
			return s.error("-ERR [AUTH] use STLS first")
		}
		if len(cmd.args) != 1 {
			return s.error("-ERR usage: USER name")
		}
		s.user = cmd.args[0]
		s.reply("+OK send PASS")
		return true
	case "PASS":
		if s.user == "" {
			return s.error("-ERR USER first")
		}
		if len(cmd.args) != 1 {
			return s.error("-ERR usage: PASS password")
		}
		return s.login(cmd.args[0])
	}
	return s.error("-ERR unknown command or not logged in")
}

// login checks user's password and locks the mailbox.
func (s *pop3Session) login(pass string) bool {
	peer := s.conn.RemoteAddr()
	user := s.user
	s.user = ""
	if s.m.guard.blocked(peer) {
		s.m.login("pop3", "failed")
		s.reply("-ERR [AUTH] too many failed logins, try again later")
		return false
	}
	local, dir, ok := s.m.loginMailbox(user)
	if !ok || !s.m.userDB.Load().check(local, pass) {
		s.m.login("pop3", "failed")
		s.m.log.Info("pop3: login failed", zap.Stringer("peer", peer), zap.String("user", user))
		s.m.guard.failed(peer)
		return s.error("-ERR [AUTH] invalid user name or password")
	}
	box, _ := s.m.mailbox(dir, local)
	if box == "" {
		box = mailboxDir(dir, strings.ToLower(local))
	}
	if err := makeMaildir(box); err != nil {
		s.m.log.Error("pop3: mailbox", zap.Error(err))
		s.reply("-ERR [SYS/TEMP] mailbox unavailable")
		return false
	}
	if !s.m.locks.take(box) {
		s.reply("-ERR [IN-USE] mailbox locked by another session")
		return false
	}
	msgs, err := scanMaildir(box)
	if err != nil {
		s.m.locks.release(box)
		s.m.log.Error("pop3: mailbox", zap.Error(err))
		s.reply("-ERR [SYS/TEMP] mailbox unavailable")
		return false
	}
	s.box, s.msgs = box, msgs
	s.m.login("pop3", "ok")
	n, size := s.stat()
	s.reply("+OK %d messages (%d octets)", n, size)
	return true
}

// stat counts the messages not marked deleted, and their size.
func (s *pop3Session) stat() (n int, size int64) {
	for _, m := range s.msgs {
		if !m.deleted {
			n++
			size += m.size
		}
	}
	return n, size
}

// message returns message number arg (1-based), not deleted.
func (s *pop3Session) message(arg string) (int, *message, bool) {
	n, err := strconv.Atoi(arg)
	if err != nil || n < 1 || n > len(s.msgs) || s.msgs[n-1].deleted {
		return 0, nil, false
	}
	return n, s.msgs[n-1], true
}

func (s *pop3Session) transaction(cmd pop3Command) bool {
	switch cmd.name {
	case "STAT":
		n, size := s.stat()
		s.reply("+OK %d %d", n, size)
		return true
	case "LIST", "UIDL":
		if len(cmd.args) > 1 {
			return s.error("-ERR too many arguments")
		}
		show := func(n int, m *message) string {
			if cmd.name == "LIST" {
				return fmt.Sprintf("%d %d", n, m.size)
			}
			return fmt.Sprintf("%d %s", n, m.uid)
		}
		if len(cmd.args) == 1 {
			n, m, ok := s.message(cmd.args[0])
			if !ok {
				return s.error("-ERR no such message")
			}
			s.reply("+OK %s", show(n, m))
			return true
		}
		s.reply("+OK")
		for i, m := range s.msgs {
			if !m.deleted {
				fmt.Fprintf(s.w, "%s\r\n", show(i+1, m))
			}
		}
		s.reply(".")
		return true
	case "RETR", "TOP":
		want := 1
		if cmd.name == "TOP" {
			want = 2
		}
		if len(cmd.args) != want {
			return s.error("-ERR usage: " + map[bool]string{true: "TOP msg n", false: "RETR msg"}[want == 2])
		}
		_, m, ok := s.message(cmd.args[0])
		if !ok {
			return s.error("-ERR no such message")
		}
		lines := -1
		if want == 2 {
			n, err := strconv.Atoi(cmd.args[1])
			if err != nil || n < 0 {
				return s.error("-ERR bad line count")
			}
			lines = n
		}
		return s.send(m, lines)
	case "DELE":
		if len(cmd.args) != 1 {
			return s.error("-ERR usage: DELE msg")
		}
		n, m, ok := s.message(cmd.args[0])
		if !ok {
			return s.error("-ERR no such message")
		}
		m.deleted = true
		s.reply("+OK message %d deleted", n)
		return true
	case "RSET":
		for _, m := range s.msgs {
			m.deleted = false
		}
		n, size := s.stat()
		s.reply("+OK %d messages (%d octets)", n, size)
		return true
	}
	return s.error("-ERR unknown command")
}

// send writes a message dot-stuffed with CRLF line ends; lines >= 0 sends
// the header and that many body lines (TOP).
func (s *pop3Session) send(m *message, lines int) bool {
	f, err := os.Open(m.path)
	if err != nil {
		return s.error("-ERR [SYS/TEMP] message unavailable")
	}
	defer f.Close()
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.m.opts.POP3Timeout))
	fmt.Fprintf(s.w, "+OK %d octets\r\n", m.size)
	r := bufio.NewReaderSize(f, 32<<10)
	inBody, body := false, 0
	for {
		line, err := r.ReadSlice('\n')
		if len(line) > 0 {
			if lines >= 0 && inBody && s.atLineStart {
				if body >= lines {
					break
				}
				body++
			}
			full := len(line) > 0 && line[len(line)-1] == '\n'
			text := line
			if full {
				text = line[:len(line)-1]
				if len(text) > 0 && text[len(text)-1] == '\r' {
					text = text[:len(text)-1]
				}
				if len(text) == 0 && !inBody && s.atLineStart {
					inBody = true
				}
			}
			// Dot-stuffing applies at the start of a line; a long line
			// comes in pieces, and only its first piece starts one.
			if len(text) > 0 && text[0] == '.' && s.atLineStart {
				s.w.WriteByte('.')
			}
			s.w.Write(text)
			if full {
				s.w.WriteString("\r\n")
			}
			s.atLineStart = full
		}
		if err == io.EOF {
			if !s.atLineStart {
				s.w.WriteString("\r\n")
			}
			break
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			s.m.log.Error("pop3: reading message", zap.String("path", m.path), zap.Error(err))
			_ = s.w.Flush()
			return false // the client cannot tell a cut message from a whole one: end the session
		}
	}
	s.atLineStart = true
	s.reply(".")
	return s.w.Flush() == nil
}

// quit leaves: in TRANSACTION state, deleted messages are removed first
// (the UPDATE state of RFC 1939).
func (s *pop3Session) quit() bool {
	if s.box == "" {
		s.reply("+OK bye")
		return false
	}
	failed := 0
	for _, m := range s.msgs {
		if m.deleted {
			if err := os.Remove(m.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				failed++
				s.m.log.Error("pop3: deleting", zap.String("path", m.path), zap.Error(err))
			}
		}
	}
	n, _ := s.stat()
	if failed > 0 {
		s.reply("-ERR [SYS/TEMP] %d messages not deleted", failed)
		return false
	}
	s.reply("+OK bye, %d messages left", n)
	return false
}
