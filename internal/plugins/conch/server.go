package conch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/twistd-go/twistd/htpasswd"
	"github.com/twistd-go/twistd/policy"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// Bounds against hostile clients.
const (
	// connBuffer is how much a connection's unread input may hold before
	// the transport stops reading from the peer. At 64 KiB the buffer
	// stays within what protocol.Conn pools (twice 64 KiB); at 256 KiB an
	// upload grew it past that on every burst, a fresh 256 KiB each
	// time for the collector: the server's CPU per GiB uploaded fell
	// from 15.0-16.5 s to 11.9-13.2 s (bench/sftp.sh, 256 MiB, 3 rounds).
	// The SSH channel window (2 MiB) keeps the pipe full either way.
	connBuffer = 64 << 10
	// stopGrace is how long Stop waits, once its context has ended and
	// the connections are cut, for the sessions' processes to be reaped.
	stopGrace = 5 * time.Second
	// killGrace is how long a session's processes get between SIGHUP and
	// SIGKILL once its channel or connection is gone.
	killGrace = 2 * time.Second
)

// server is the ssh service.
type server struct {
	name      string
	opts      Options
	keys      []ssh.Signer
	exe       string           // our executable, for the SFTP child when root
	passwords []*htpasswd.File // the file: auth entries, in order
	fails     *failures
	cfg       *ssh.ServerConfig

	log    *zap.Logger
	stats  *service.Stats
	logins *prometheus.CounterVec
	chans  *prometheus.CounterVec
	// env is what Start was given, for StartBulk; helperEnv is its
	// HelperEnv, for the SFTP child.
	env       *service.Env
	helperEnv []string

	mu      sync.Mutex
	pol     *policy.Policy
	servers []service.Server
	conns   sync.WaitGroup
}

// newServer serves opts with the host keys and the ciphers offered.
func newServer(name string, opts Options, keys []ssh.Signer, ciphers []string) (*server, error) {
	s := &server{
		name:  name,
		opts:  opts,
		keys:  keys,
		fails: newFailures(opts.MaxAuthFailuresPerPeer.N, opts.MaxAuthFailuresPerPeer.Per),
		log:   zap.NewNop(),
	}
	if exe, err := os.Executable(); err == nil {
		s.exe = exe
	}
	if err := s.loadPasswords(); err != nil {
		return nil, err
	}
	cfg := &ssh.ServerConfig{
		MaxAuthTries:      opts.MaxAuthTries,
		PublicKeyCallback: s.publicKey,
		AuthLogCallback:   s.authLog,
		ServerVersion:     "SSH-2.0-twistd_conch",
	}
	cfg.Ciphers = ciphers
	for _, a := range opts.Auth {
		if a.Kind == "file" {
			cfg.PasswordCallback = s.password
		}
	}
	for _, k := range keys {
		cfg.AddHostKey(k)
	}
	s.cfg = cfg
	return s, nil
}

// loadPasswords reads every file: auth; the first file naming a user wins.
func (s *server) loadPasswords() error {
	for _, a := range s.opts.Auth {
		if a.Kind != "file" {
			continue
		}
		f, err := htpasswd.Load(a.Path)
		if err != nil {
			return fmt.Errorf("password file: %w", err)
		}
		s.passwords = append(s.passwords, f)
	}
	return nil
}

// Reload re-reads the password files; on error a file's old users stay.
func (s *server) Reload(context.Context) error {
	var errs []error
	for _, f := range s.passwords {
		if err := f.Reload(); err != nil {
			errs = append(errs, fmt.Errorf("password file: %w", err))
		}
	}
	return errors.Join(errs...)
}

// checkPassword reports whether pw is user's password in the first file
// naming the user, and whether any does. An unknown user costs a bcrypt
// too, so timing tells no names.
func (s *server) checkPassword(user string, pw []byte) (ok, known bool) {
	if len(s.passwords) == 0 {
		return false, false
	}
	f := s.passwords[len(s.passwords)-1]
	for _, p := range s.passwords {
		if p.Has(user) {
			f, known = p, true
			break
		}
	}
	return f.Check(user, string(pw)), known
}

// account checks the users: list and finds the account.
func (s *server) account(name string) (*account, error) {
	if len(s.opts.Users) > 0 {
		ok := false
		for _, u := range s.opts.Users {
			ok = ok || u == name
		}
		if !ok {
			return nil, fmt.Errorf("user %q is not among the users the service admits", name)
		}
	}
	return lookupAccount(name)
}

func (s *server) publicKey(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	if s.fails.blocked(c.RemoteAddr()) {
		return nil, errors.New("too many failed logins from this address")
	}
	a, err := s.account(c.User())
	if err != nil {
		return nil, err
	}
	var why []string
	for _, spec := range s.opts.Auth {
		if spec.Kind != "authorized_keys" {
			continue
		}
		path := expandKeysPath(spec.Path, a)
		data, err := readKeysFile(path, a)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				why = append(why, err.Error())
			}
			continue
		}
		g, ok, skipped := matchKey(data, key, c.RemoteAddr())
		for _, sk := range skipped {
			why = append(why, path+": "+sk)
		}
		if ok {
			return &ssh.Permissions{Extensions: g.extensions()}, nil
		}
	}
	if len(why) > 0 {
		return nil, fmt.Errorf("key %s not accepted: %s", ssh.FingerprintSHA256(key), strings.Join(why, "; "))
	}
	return nil, fmt.Errorf("key %s not authorized", ssh.FingerprintSHA256(key))
}

func (s *server) password(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
	if s.fails.blocked(c.RemoteAddr()) {
		return nil, errors.New("too many failed logins from this address")
	}
	ok, known := s.checkPassword(c.User(), pw)
	if !known {
		return nil, fmt.Errorf("user %q is not in the password file", c.User())
	}
	if !ok {
		return nil, errors.New("wrong password")
	}
	if _, err := s.account(c.User()); err != nil {
		return nil, err
	}
	return &ssh.Permissions{Extensions: map[string]string{extMethod: "password"}}, nil
}

// authLog counts every failed attempt against the peer.
func (s *server) authLog(c ssh.ConnMetadata, method string, err error) {
	if err == nil || method == "none" {
		return
	}
	s.fails.fail(c.RemoteAddr())
	s.log.Debug("authentication attempt failed", zap.String("user", c.User()),
		zap.Stringer("peer", c.RemoteAddr()), zap.String("method", method), zap.Error(err))
}

// Start serves on env's listeners under the policies.
func (s *server) Start(_ context.Context, env *service.Env) error {
	for _, l := range env.Listeners {
		if l.Stream == nil {
			return fmt.Errorf("listen %s: SSH runs over streams only", l.Endpoint)
		}
	}
	s.log, s.env, s.stats, s.helperEnv = env.Logger, env, env.Stats, env.HelperEnv
	s.logins = env.Metrics.Counter(prometheus.CounterOpts{
		Name: "twistd_ssh_logins_total",
		Help: "SSH connections by login outcome: ok, or failed (the client gave up or ran out of tries).",
	}, "service", "result")
	s.chans = env.Metrics.Counter(prometheus.CounterOpts{
		Name: "twistd_ssh_channels_total",
		Help: "SSH channels opened, by kind: exec, shell, sftp, direct-tcpip, forwarded-tcpip, refused.",
	}, "service", "kind")
	cfg := s.opts.Policies.Config()
	pol, err := policy.New(cfg, env.Logger, env.Stats)
	if err != nil {
		return fmt.Errorf("policies: %w", err)
	}
	f := pol.WrapFactory(protocol.FactoryFunc(func(net.Addr) protocol.Protocol {
		return &connProto{Conn: protocol.NewConn(connBuffer), s: s}
	}))
	servers := make([]service.Server, 0, len(env.Listeners))
	for _, l := range env.Listeners {
		servers = append(servers, env.Runner.ServeStream(l, f))
	}
	s.mu.Lock()
	s.pol, s.servers = pol, servers
	s.mu.Unlock()
	return nil
}

// Stop stops accepting and lets sessions go on until ctx ends; then the
// reactor cuts the connections, and their processes are hung up on,
// killed and reaped.
func (s *server) Stop(ctx context.Context) error {
	s.mu.Lock()
	servers, pol := s.servers, s.pol
	s.servers = nil
	s.mu.Unlock()
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, l := range servers {
		wg.Go(func() { errs[i] = l.Shutdown(ctx) })
	}
	wg.Wait()
	done := make(chan struct{})
	go func() { s.conns.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(stopGrace + killGrace):
		s.log.Warn("sessions still ending after the stop", zap.Duration("waited", stopGrace+killGrace))
	}
	if pol != nil {
		_ = pol.Close()
	}
	return errors.Join(errs...)
}

// Reopen reopens the traffic log (SIGUSR1).
func (s *server) Reopen() error {
	s.mu.Lock()
	pol := s.pol
	s.mu.Unlock()
	if pol == nil {
		return nil
	}
	return pol.Reopen()
}

// connProto runs the SSH connection on a blocking net.Conn in its own
// goroutine once the transport is up.
type connProto struct {
	*protocol.Conn
	s *server
}

func (p *connProto) ConnectionMade(t protocol.Transport) {
	p.Conn.ConnectionMade(t)
	p.s.conns.Add(1)
	go func() {
		defer p.s.conns.Done()
		p.s.serveConn(p.NetConn())
	}()
}

// serveConn does the handshake within the login grace time, then serves
// the connection's channels and requests until it ends.
func (s *server) serveConn(nc net.Conn) {
	defer nc.Close()
	peer := nc.RemoteAddr()
	if s.fails.blocked(peer) {
		s.log.Info("connection refused: too many failed logins from this address", zap.Stringer("peer", peer))
		return
	}
	_ = nc.SetDeadline(time.Now().Add(s.opts.LoginGraceTime))
	// The connection's own copy of the configuration remembers its last
	// failed attempt, for the one line a failed login logs.
	cfg := *s.cfg
	var last struct {
		user, method string
		err          error
		tries        int
	}
	cfg.AuthLogCallback = func(c ssh.ConnMetadata, method string, err error) {
		s.authLog(c, method, err)
		if err != nil && method != "none" {
			last.user, last.method, last.err = c.User(), method, err
			last.tries++
		}
	}
	sc, chans, reqs, err := ssh.NewServerConn(nc, &cfg)
	if err != nil {
		var ae *ssh.ServerAuthError
		switch {
		case errors.As(err, &ae) || last.tries > 0 && !errors.Is(err, os.ErrDeadlineExceeded):
			s.logins.WithLabelValues(s.name, "failed").Inc()
			why := last.err
			if why == nil && ae != nil {
				why = lastAuthError(ae)
			}
			s.log.Warn("login failed", zap.String("user", last.user), zap.Stringer("peer", peer),
				zap.String("method", last.method), zap.Int("failed_attempts", last.tries), zap.NamedError("reason", why))
		case errors.Is(err, os.ErrDeadlineExceeded):
			s.log.Info("login timed out", zap.Stringer("peer", peer), zap.Duration("login_grace_time", s.opts.LoginGraceTime))
		default:
			s.log.Debug("handshake failed", zap.Stringer("peer", peer), zap.Error(err))
		}
		return
	}
	_ = nc.SetDeadline(time.Time{})
	defer sc.Close()
	s.logins.WithLabelValues(s.name, "ok").Inc()
	s.log.Info("login", zap.String("user", sc.User()), zap.Stringer("peer", peer),
		zap.String("method", sc.Permissions.Extensions[extMethod]))
	a, err := s.account(sc.User())
	if err != nil {
		s.log.Warn("login refused", zap.String("user", sc.User()), zap.Stringer("peer", peer), zap.Error(err))
		return
	}
	c := &conn{s: s, sc: sc, acct: a, gone: make(chan struct{}), log: s.log.With(zap.String("user", a.Name), zap.Stringer("peer", peer))}
	c.serve(chans, reqs)
}

// lastAuthError is the last reason of a failed login, the most telling.
func lastAuthError(ae *ssh.ServerAuthError) error {
	for i := len(ae.Errors) - 1; i >= 0; i-- {
		if e := ae.Errors[i]; e != nil && !errors.Is(e, ssh.ErrNoAuth) {
			return e
		}
	}
	return ae
}

var (
	_ service.Service  = (*server)(nil)
	_ service.Reloader = (*server)(nil)
	_ service.Reopener = (*server)(nil)
)
