package mail

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"go.uber.org/zap"
)

// backend is go-smtp's Backend for one listener.
type backend struct {
	m   *mailService
	tls bool // the listener is ssl:, every session is under TLS
}

// NewSession implements smtp.Backend.
func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s := &session{m: b.m, c: c, tlsListener: b.tls, raw: rawConn(c.Conn())}
	b.m.sessions.Store(s.raw, s)
	return s, nil
}

// rawConn is the connection under a STARTTLS layer: ours, as the listener
// handed it out.
func rawConn(c net.Conn) net.Conn {
	if tc, ok := c.(*tls.Conn); ok {
		return tc.NetConn()
	}
	return c
}

// session is one SMTP transaction's state.
type session struct {
	m           *mailService
	c           *smtp.Conn
	tlsListener bool
	from        string
	rcpts       []string // mailbox directories
	forAddrs    []string
	user        string // logged in with AUTH
	errors      int
	raw         net.Conn
	inTx        atomic.Bool // between MAIL and the end of DATA or RSET: a stop waits for it
}

var (
	errRelay = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Relaying denied"}
	errNoUser = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
		Message: "No such user here"}
	errBadAddr = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3},
		Message: "Bad address syntax"}
	errTooManyErrors = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0},
		Message: "Too many errors, closing connection"}
	errTempFail = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "Local error in processing, try again later"}
	errNoStorage = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1},
		Message: "Insufficient system storage, try again later"}
	errShuttingDown = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2},
		Message: "Shutting down, try again later"}
	errAuthTooMany = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0},
		Message: "Too many failed logins, try again later"}
)

// fail counts an error of the session and closes the connection once it
// has had too many (after this reply is written).
func (s *session) fail(err error) error {
	s.errors++
	if s.m.opts.MaxErrors > 0 && s.errors >= s.m.opts.MaxErrors {
		s.m.log.Info("smtp: too many errors, closing", zap.Stringer("peer", s.c.Conn().RemoteAddr()))
		go func() {
			// After go-smtp has written this reply.
			time.Sleep(100 * time.Millisecond)
			_ = s.c.Close()
		}()
		return errTooManyErrors
	}
	return err
}

// Mail implements smtp.Session.
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if from != "" {
		if _, err := mail.ParseAddress("<" + from + ">"); err != nil {
			return s.fail(errBadAddr)
		}
	}
	if s.m.stopping.Load() {
		return errShuttingDown
	}
	s.from = from
	s.rcpts, s.forAddrs = nil, nil
	s.inTx.Store(true)
	return nil
}

// Rcpt implements smtp.Session: only our domains' users, never a relay.
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	local, domain, ok := strings.Cut(to, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") {
		s.m.counted("refused")
		return s.fail(errBadAddr)
	}
	dir, ok := s.m.domainDir(domain)
	if !ok {
		s.m.counted("refused")
		s.m.log.Info("smtp: relay denied", zap.Stringer("peer", s.c.Conn().RemoteAddr()), zap.String("rcpt", to))
		return s.fail(errRelay)
	}
	box, ok := s.m.mailbox(dir, local)
	if !ok {
		s.m.counted("refused")
		return s.fail(errNoUser)
	}
	for _, b := range s.rcpts {
		if b == box {
			return nil // the same mailbox twice gets one copy
		}
	}
	s.rcpts = append(s.rcpts, box)
	s.forAddrs = append(s.forAddrs, to)
	return nil
}

// Data implements smtp.Session: the message goes into every recipient's
// Maildir, or into none.
func (s *session) Data(r io.Reader) error {
	if len(s.rcpts) == 0 {
		return &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "No valid recipients"}
	}
	header := s.received()
	err := deliver(s.rcpts, s.m.opts.Hostname, header, r)
	if err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			s.m.counted("refused")
			return err // 552 message too large
		}
		if errors.Is(err, smtp.ErrTooLongLine) {
			s.m.counted("refused")
			return &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 5, 2}, Message: "Line too long"}
		}
		if errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			s.m.counted("refused")
			return err // the peer went away mid-DATA; nothing delivered
		}
		s.m.counted("failed")
		s.m.log.Error("smtp: delivery failed", zap.Error(err))
		if errors.Is(err, errNoSpace) {
			return errNoStorage
		}
		return errTempFail
	}
	s.m.counted("accepted")
	s.m.log.Info("smtp: delivered", zap.Stringer("peer", s.c.Conn().RemoteAddr()),
		zap.String("from", s.from), zap.Strings("to", s.forAddrs))
	return nil
}

// received is the Received: trace header of RFC 5321 section 4.4.
func (s *session) received() []byte {
	with := "ESMTP"
	if _, ok := s.c.TLSConnectionState(); ok || s.tlsListener {
		with += "S"
	}
	if s.user != "" {
		with += "A"
	}
	peer := s.c.Conn().RemoteAddr()
	ip := peerKey(peer)
	helo := sanitize(s.c.Hostname())
	id := uniqueName("")
	id = strings.TrimSuffix(id[strings.LastIndexByte(id, 'R')+1:], ".")
	var b strings.Builder
	fmt.Fprintf(&b, "Received: from %s ([%s])\r\n\tby %s (twistd) with %s id %s", helo, ip, s.m.opts.Hostname, with, id)
	if len(s.forAddrs) == 1 {
		fmt.Fprintf(&b, "\r\n\tfor <%s>", sanitize(s.forAddrs[0]))
	}
	fmt.Fprintf(&b, ";\r\n\t%s\r\n", time.Now().Format(time.RFC1123Z))
	return []byte(strings.ReplaceAll(b.String(), "\r\n", "\n"))
}

// sanitize keeps a peer's word printable and short for a header.
func sanitize(s string) string {
	if len(s) > 255 {
		s = s[:255]
	}
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r > '~' || r == '(' || r == ')' {
			return '_'
		}
		return r
	}, s)
}

// Reset implements smtp.Session.
func (s *session) Reset() {
	s.from, s.rcpts, s.forAddrs = "", nil, nil
	s.inTx.Store(false)
}

// Logout implements smtp.Session.
func (s *session) Logout() error {
	s.m.sessions.CompareAndDelete(s.raw, s)
	return nil
}

// AuthMechanisms implements smtp.AuthSession: PLAIN and LOGIN when auth is
// on (go-smtp offers them only under TLS unless insecure auth is allowed).
func (s *session) AuthMechanisms() []string {
	if !s.m.opts.Auth {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

// Auth implements smtp.AuthSession.
func (s *session) Auth(mech string) (sasl.Server, error) {
	if !s.m.opts.Auth {
		return nil, smtp.ErrAuthUnsupported
	}
	peer := s.c.Conn().RemoteAddr()
	if s.m.guard.blocked(peer) {
		return nil, errAuthTooMany
	}
	check := func(user, pass string) error {
		if !s.m.userDB.Load().check(user, pass) {
			s.m.login("smtp", "failed")
			s.m.log.Info("smtp: login failed", zap.Stringer("peer", peer), zap.String("user", user))
			s.m.guard.failed(peer)
			return s.fail(smtp.ErrAuthFailed)
		}
		s.m.login("smtp", "ok")
		s.user = user
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return s.fail(smtp.ErrAuthFailed)
			}
			return check(user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// mailboxDir is the Maildir of local in a domain's directory.
func mailboxDir(dir, local string) string { return filepath.Join(dir, local) }

var (
	_ smtp.Session     = (*session)(nil)
	_ smtp.AuthSession = (*session)(nil)
)

// loginServer is the server side of the LOGIN mechanism (draft-murchison-
// sasl-login), which go-sasl has only a client for.
type loginServer struct {
	check func(user, pass string) error
	user  string
	step  int
}

// Next implements sasl.Server.
func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case 0:
		l.step = 1
		if response != nil { // an initial response is the user name
			l.user, l.step = string(response), 2
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user, l.step = string(response), 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.check(l.user, string(response))
	}
	return nil, true, errors.New("unexpected response")
}
