// Package mail is the mail plugin (twistd mail, type: mail): an ESMTP
// server that accepts mail for its domains into Maildirs and never
// relays, and a POP3 server that reads those Maildirs.
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/htpasswd"
	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/policy"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

func init() { plugin.Register(maker{}) }

// Defaults of the keys a file may leave out.
const (
	DefaultMaxMessageSize   = 10 << 20
	DefaultMaxRecipients    = 100
	DefaultMaxLineLength    = 2000 // RFC 5321 asks for 1000 at least
	DefaultCommandTimeout   = 5 * time.Minute
	DefaultPOP3Timeout      = 10 * time.Minute
	DefaultMaxErrors        = 10
	DefaultAuthFailureDelay = time.Second
	DefaultMaxAuthFailures  = 10
	authFailureWindow       = 15 * time.Minute
)

// Options are the keys of a mail entry beyond name, type and listen.
type Options struct {
	// Hostname is the name the server greets with and puts in Received:.
	Hostname string `yaml:"hostname"`
	// ESMTP is twistd's -E; this server always speaks ESMTP.
	ESMTP bool `yaml:"esmtp"`
	// Domains maps each domain accepted to its directory of Maildirs.
	Domains map[string]string `yaml:"domains,required"`
	// POP3 names the endpoints of listen: that speak POP3; the others speak SMTP.
	POP3 []string `yaml:"pop3"`
	// Users are name: password; UsersFile an htpasswd file of bcrypt hashes.
	Users     map[string]string `yaml:"users"`
	UsersFile plugin.FilePath   `yaml:"users_file"`
	// Certificate is a PEM file with the key and the certificate, for
	// STARTTLS and STLS.
	Certificate plugin.FilePath `yaml:"certificate"`
	// Auth offers SMTP AUTH PLAIN and LOGIN, under TLS only unless
	// AllowInsecureAuth (which also lets POP3 log in without STLS when a
	// certificate is given).
	Auth              bool `yaml:"auth"`
	AllowInsecureAuth bool `yaml:"allow_insecure_auth"`
	// BounceToPostmaster delivers mail for unknown users of a domain to
	// its postmaster instead of refusing it (twistd's -b).
	BounceToPostmaster bool `yaml:"bounce_to_postmaster"`

	MaxMessageSize   plugin.Size     `yaml:"max_message_size"`
	MaxRecipients    int             `yaml:"max_recipients"`
	MaxLineLength    int             `yaml:"max_line_length"`
	CommandTimeout   time.Duration   `yaml:"command_timeout"`
	POP3Timeout      time.Duration   `yaml:"pop3_timeout"`
	MaxErrors        int             `yaml:"max_errors"`
	AuthFailureDelay time.Duration   `yaml:"auth_failure_delay"`
	MaxAuthFailures  int             `yaml:"max_auth_failures"`
	Policies         plugin.Policies `yaml:"policies"`
}

type maker struct{}

func (maker) Name() string { return "mail" }
func (maker) Description() string {
	return "ESMTP into Maildirs for local domains (no relaying) and POP3 to read them"
}

func defaults() Options {
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	return Options{Hostname: host, ESMTP: true, MaxMessageSize: DefaultMaxMessageSize,
		MaxRecipients: DefaultMaxRecipients, MaxLineLength: DefaultMaxLineLength,
		CommandTimeout: DefaultCommandTimeout, POP3Timeout: DefaultPOP3Timeout,
		MaxErrors: DefaultMaxErrors, AuthFailureDelay: DefaultAuthFailureDelay,
		MaxAuthFailures: DefaultMaxAuthFailures}
}

// validLocal reports whether s may name a mailbox directory.
func validLocal(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._-+=", c) >= 0) {
			return false
		}
	}
	return true
}

func (maker) New(e *plugin.Entry) (service.Service, error) {
	opts := defaults()
	errs := []error{e.Decode(&opts)}
	at := e.Value
	if opts.Hostname == "" || strings.ContainsAny(opts.Hostname, " \t\r\n") {
		errs = append(errs, e.Errorf(at("hostname"), "hostname %q: want a host name", opts.Hostname))
	}
	if at("domains") != nil && len(opts.Domains) == 0 {
		errs = append(errs, e.Errorf(at("domains"), "domains: give at least one domain: directory"))
	}
	domains := map[string]string{}
	for d, dir := range opts.Domains {
		ld := strings.ToLower(strings.TrimSuffix(d, "."))
		if ld == "" || strings.ContainsAny(ld, " @/\\[]") {
			errs = append(errs, e.Errorf(at("domains"), "domains: %q is not a domain name", d))
			continue
		}
		if dir == "" {
			errs = append(errs, e.Errorf(at("domains"), "domains: %s: give a directory", d))
			continue
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(e.Dir(), dir)
		}
		if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
			errs = append(errs, e.Errorf(at("domains"), "domains: %s: %s is not a directory", d, dir))
		} else if err != nil {
			if pi, perr := os.Stat(filepath.Dir(dir)); perr != nil || !pi.IsDir() {
				errs = append(errs, e.Errorf(at("domains"), "domains: %s: %s does not exist, nor its parent", d, dir))
			}
		}
		domains[ld] = dir
	}
	for u := range opts.Users {
		if !validLocal(u) {
			errs = append(errs, e.Errorf(at("users"), "users: %q is not a user name (letters, digits, . _ - + =)", u))
		}
	}
	var hashed *htpasswd.File
	if opts.UsersFile != "" {
		h, err := readUsersFile(string(opts.UsersFile))
		if err != nil {
			errs = append(errs, e.Errorf(at("users_file"), "users_file: %v", err))
		}
		hashed = h
	}
	var cert *tls.Certificate
	if opts.Certificate != "" {
		c, err := loadCertificate(string(opts.Certificate))
		if err != nil {
			errs = append(errs, e.Errorf(at("certificate"), "certificate: %v", err))
		}
		cert = c
	}
	if opts.Auth && len(opts.Users) == 0 && opts.UsersFile == "" {
		errs = append(errs, e.Errorf(at("auth"), "auth: give users or users_file to log in with"))
	}
	for _, k := range []struct {
		key string
		v   int64
	}{{"max_message_size", int64(opts.MaxMessageSize)}, {"max_recipients", int64(opts.MaxRecipients)},
		{"command_timeout", int64(opts.CommandTimeout)}, {"pop3_timeout", int64(opts.POP3Timeout)},
		{"max_auth_failures", int64(opts.MaxAuthFailures)}} {
		if k.v <= 0 {
			errs = append(errs, e.Errorf(at(k.key), "%s must be positive", k.key))
		}
	}
	if opts.MaxLineLength < 1000 {
		errs = append(errs, e.Errorf(at("max_line_length"), "max_line_length must be at least 1000 (RFC 5321)"))
	}
	if opts.MaxErrors < 0 || opts.AuthFailureDelay < 0 {
		errs = append(errs, e.Errorf(nil, "max_errors and auth_failure_delay must not be negative"))
	}
	// Each pop3: endpoint marks the last listen: endpoint equal to it not
	// yet marked, so a one-liner's (SMTP first, POP3 last) stay apart even
	// when both are tcp:0.
	pop3 := map[int]bool{}
	for _, s := range opts.POP3 {
		ep, err := endpoint.Parse(s)
		if err != nil {
			errs = append(errs, e.Errorf(at("pop3"), "pop3 %q: %v", s, err))
			continue
		}
		ep = ep.Rebase(e.Dir())
		found := false
		for i := len(e.Listen) - 1; i >= 0 && !found; i-- {
			if !pop3[i] && e.Listen[i].String() == ep.String() {
				pop3[i], found = true, true
			}
		}
		if !found {
			errs = append(errs, e.Errorf(at("pop3"), "pop3 %q: not one of listen's endpoints (list it there too)", s))
		}
	}
	for _, l := range e.Listen {
		if !l.IsStream() {
			errs = append(errs, e.Errorf(nil, "listen %s: mail speaks over streams, not datagrams", l))
		}
	}
	if err := plugin.Join(errs...); err != nil {
		return nil, err
	}
	m := &mailService{opts: opts, domains: domains, pop3: pop3,
		guard:    newGuard(opts.AuthFailureDelay, opts.MaxAuthFailures, authFailureWindow),
		policies: opts.Policies.Config()}
	m.userDB.Store(newUsers(opts.Users, hashed))
	if cert != nil {
		m.cert.Store(cert)
		m.tls = &tls.Config{MinVersion: tls.VersionTLS12,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return m.cert.Load(), nil }}
	}
	return m, nil
}

// loadCertificate reads a PEM file holding both the private key and the
// certificate chain, as twistd's --certificate.
func loadCertificate(path string) (*tls.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := tls.X509KeyPair(data, data)
	if err != nil {
		return nil, fmt.Errorf("%s: want the key and the certificate in one PEM file: %w", path, err)
	}
	return &c, nil
}

// mailService is a running mail entry.
type mailService struct {
	opts     Options
	domains  map[string]string // lower-case domain: directory
	pop3     map[int]bool      // indexes of the listeners speaking POP3
	userDB   atomic.Pointer[users]
	guard    *guard
	policies policy.Config
	tls      *tls.Config // nil without a certificate
	cert     atomic.Pointer[tls.Certificate]
	locks    locks

	log      *zap.Logger
	stats    *service.Stats
	messages *prometheus.CounterVec
	logins   *prometheus.CounterVec
	name     string

	// sessions maps each SMTP connection to its session; stopping is set
	// when a stop begins.
	sessions sync.Map // net.Conn → *session
	stopping atomic.Bool

	mu        sync.Mutex
	servers   []service.Server
	listeners []*protocol.Listener
	isPOP3    []bool // by listener
	smtps     []*smtp.Server
	pol       *policy.Policy
	wg        sync.WaitGroup
}

// counted counts a message by its outcome.
func (m *mailService) counted(result string) {
	if m.messages != nil {
		m.messages.WithLabelValues(m.name, result).Inc()
	}
	if result == "accepted" && m.stats != nil {
		m.stats.Requests.Add(1)
	}
}

// login counts a login by protocol and outcome.
func (m *mailService) login(proto, result string) {
	if m.logins != nil {
		m.logins.WithLabelValues(m.name, proto, result).Inc()
	}
}

// domainDir is the directory of a domain we accept mail for.
func (m *mailService) domainDir(domain string) (string, bool) {
	dir, ok := m.domains[strings.ToLower(strings.TrimSuffix(domain, "."))]
	return dir, ok
}

// mailbox is local's Maildir in dir when local is a user (configured, or
// with a Maildir there), postmaster (always, RFC 5321 section 4.5.1), or
// any name when bounce_to_postmaster sends unknown users to postmaster.
func (m *mailService) mailbox(dir, local string) (string, bool) {
	if !validLocal(local) {
		return "", false
	}
	local = strings.ToLower(local)
	box := mailboxDir(dir, local)
	if m.userDB.Load().has(local) || isMaildir(box) {
		return box, true
	}
	if local == "postmaster" || m.opts.BounceToPostmaster {
		box = mailboxDir(dir, "postmaster")
		if err := makeMaildir(box); err != nil {
			m.log.Error("smtp: postmaster mailbox", zap.Error(err))
			return "", false
		}
		return box, true
	}
	return "", false
}

// loginMailbox finds the domain directory a POP3 login names: user@domain,
// or a bare user in the only domain, else the first domain (by name) where
// the user has a Maildir, else the first domain.
func (m *mailService) loginMailbox(user string) (local, dir string, ok bool) {
	if l, d, found := strings.Cut(user, "@"); found {
		dir, ok = m.domainDir(d)
		return l, dir, ok && validLocal(l)
	}
	if !validLocal(user) {
		return "", "", false
	}
	names := make([]string, 0, len(m.domains))
	for d := range m.domains {
		names = append(names, d)
	}
	sort.Strings(names)
	for _, d := range names {
		if isMaildir(mailboxDir(m.domains[d], strings.ToLower(user))) {
			return user, m.domains[d], true
		}
	}
	return user, m.domains[names[0]], true
}

// Start makes the domains' directories and the users' Maildirs, then
// serves SMTP or POP3 on each listener under the policies.
func (m *mailService) Start(ctx context.Context, env *service.Env) error {
	m.log, m.stats, m.name = env.Logger, env.Stats, env.Name
	m.messages = env.Metrics.Counter(prometheus.CounterOpts{Name: "twistd_mail_messages_total",
		Help: "Mail messages by service and result (accepted, refused, failed)."}, "service", "result")
	m.logins = env.Metrics.Counter(prometheus.CounterOpts{Name: "twistd_mail_logins_total",
		Help: "Logins by service, protocol (smtp, pop3) and result (ok, failed)."}, "service", "protocol", "result")
	for _, dir := range m.domains {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("mail: %w", err)
		}
		for u := range m.userDB.Load().plain {
			if err := makeMaildir(mailboxDir(dir, u)); err != nil {
				return err
			}
		}
		for _, u := range m.userDB.Load().hashedNames() {
			if validLocal(u) {
				if err := makeMaildir(mailboxDir(dir, u)); err != nil {
					return err
				}
			}
		}
	}
	pol, err := policy.New(m.policies, env.Logger, env.Stats)
	if err != nil {
		return fmt.Errorf("policies: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pol = pol
	for i, l := range env.Listeners {
		if l.Stream == nil {
			m.stopLocked(ctx)
			return fmt.Errorf("listen %s: mail speaks over streams, not datagrams", l.Endpoint)
		}
		cl := newConnListener(l.Stream.Addr())
		m.listeners = append(m.listeners, cl)
		m.isPOP3 = append(m.isPOP3, m.pop3[i])
		isTLS := l.TLS != nil
		if m.pop3[i] {
			m.wg.Go(func() {
				for {
					c, err := cl.Accept()
					if err != nil {
						return
					}
					m.wg.Go(func() { m.servePOP3(c, isTLS) })
				}
			})
			env.Logger.Info("pop3 on " + l.Stream.Addr().String())
		} else {
			s := m.smtpServer(isTLS)
			m.smtps = append(m.smtps, s)
			m.wg.Go(func() { _ = s.Serve(cl) })
			env.Logger.Info("smtp on " + l.Stream.Addr().String())
		}
		m.servers = append(m.servers, env.Runner.ServeStream(l, pol.WrapFactory(cl.Factory())))
	}
	return nil
}

// smtpServer is the go-smtp server of one listener.
func (m *mailService) smtpServer(isTLS bool) *smtp.Server {
	s := smtp.NewServer(&backend{m: m, tls: isTLS})
	s.Domain = m.opts.Hostname
	s.MaxMessageBytes = int64(m.opts.MaxMessageSize)
	s.MaxRecipients = m.opts.MaxRecipients
	s.MaxLineLength = m.opts.MaxLineLength
	s.ReadTimeout = m.opts.CommandTimeout
	s.WriteTimeout = m.opts.CommandTimeout
	// An ssl: listener's sessions are under TLS, which go-smtp cannot
	// see through our connection: AUTH is as safe there as after STARTTLS.
	s.AllowInsecureAuth = m.opts.AllowInsecureAuth || isTLS
	if !isTLS {
		s.TLSConfig = m.tls
	}
	s.ErrorLog = zapLogger{m.log}
	return s
}

// zapLogger is go-smtp's Logger on ours.
type zapLogger struct{ l *zap.Logger }

func (z zapLogger) Printf(format string, v ...any) { z.l.Debug(fmt.Sprintf("smtp: "+format, v...)) }
func (z zapLogger) Println(v ...any)               { z.l.Debug("smtp: " + fmt.Sprintln(v...)) }

// Stop drains the connections within ctx, then ends the SMTP and POP3
// loops.
func (m *mailService) Stop(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stopLocked(ctx)
}

func (m *mailService) stopLocked(ctx context.Context) error {
	m.stopping.Store(true)
	errs := make([]error, len(m.servers)+1)
	var wg sync.WaitGroup
	for i, s := range m.servers {
		wg.Go(func() { errs[i] = s.Shutdown(ctx) })
	}
	drained, idleDone := make(chan struct{}), make(chan struct{})
	go func() { m.endIdle(m.listeners, m.isPOP3, drained); close(idleDone) }()
	wg.Wait()
	close(drained)
	<-idleDone
	for _, l := range m.listeners {
		_ = l.Close()
	}
	for _, s := range m.smtps {
		_ = s.Close()
	}
	m.wg.Wait()
	if m.pol != nil {
		errs[len(m.servers)] = m.pol.Close()
	}
	m.servers, m.listeners, m.isPOP3, m.smtps, m.pol = nil, nil, nil, nil, nil
	return errors.Join(errs...)
}

// endIdle ends the sessions that are between transactions until drained
// is closed, so that a stop waits only for mail in flight: an idle
// connection's pending read is cut short (go-smtp answers it with 421, our
// POP3 with -ERR, and both close). A read deadline set anew by a command
// that raced with it is cut again on the next round.
func (m *mailService) endIdle(listeners []*protocol.Listener, isPOP3 []bool, drained <-chan struct{}) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		for i, cl := range listeners {
			for _, c := range cl.Live() {
				if !isPOP3[i] {
					if s, ok := m.sessions.Load(c); ok && s.(*session).inTx.Load() {
						continue
					}
				}
				_ = c.SetReadDeadline(time.Now())
			}
		}
		select {
		case <-drained:
			return
		case <-t.C:
		}
	}
}

// Reload re-reads the certificate and the users file in place (SIGHUP, or
// a reload that leaves the entry unchanged); on error the old ones stay.
func (m *mailService) Reload(context.Context) error {
	var errs []error
	if m.opts.Certificate != "" {
		c, err := loadCertificate(string(m.opts.Certificate))
		if err != nil {
			errs = append(errs, fmt.Errorf("certificate: %w", err))
		} else {
			m.cert.Store(c)
		}
	}
	if m.opts.UsersFile != "" {
		h, err := readUsersFile(string(m.opts.UsersFile))
		if err != nil {
			errs = append(errs, fmt.Errorf("users_file: %w", err))
		} else {
			m.userDB.Store(newUsers(m.opts.Users, h))
		}
	}
	return errors.Join(errs...)
}

// Reopen reopens the traffic log (SIGUSR1).
func (m *mailService) Reopen() error {
	m.mu.Lock()
	pol := m.pol
	m.mu.Unlock()
	if pol == nil {
		return nil
	}
	return pol.Reopen()
}

var (
	_ service.Service  = (*mailService)(nil)
	_ service.Reloader = (*mailService)(nil)
	_ service.Reopener = (*mailService)(nil)
)
