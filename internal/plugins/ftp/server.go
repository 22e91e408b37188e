package ftp

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"github.com/spf13/afero"
	"go.uber.org/zap"

	"github.com/twistd-go/twistd/htpasswd"
	"github.com/twistd-go/twistd/policy"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// server is the ftp service: the library's server, fed the control
// connections the reactor accepts on the service's listeners.
type server struct {
	cfg      *config
	policies policy.Config

	mu      sync.Mutex
	drv     *driver
	root    *rootFs
	ln      *protocol.Listener
	proto   service.Protocols
	served  chan struct{} // closed when the library's accept loop ends
	started bool
}

// loadTLS loads the AUTH TLS certificate.
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// load reads the data files: the users and the certificate.
func (s *server) load() (*data, error) {
	dt := &data{}
	if s.cfg.passwordFile != "" {
		users, err := htpasswd.Load(s.cfg.passwordFile)
		if err != nil {
			return nil, fmt.Errorf("password file: %w", err)
		}
		dt.users = users
	}
	if s.cfg.certificate != "" {
		c, err := loadTLS(s.cfg.certificate, s.cfg.key)
		if err != nil {
			return nil, err
		}
		dt.tls = c
	}
	return dt, nil
}

// Start opens the root, builds the library's server on a listener fed by
// the reactor, and serves.
func (s *server) Start(ctx context.Context, env *service.Env) error {
	if len(env.Listeners) == 0 {
		return errors.New("no listener")
	}
	dt, err := s.load()
	if err != nil {
		return err
	}
	root, err := openRoot(s.cfg.root)
	if err != nil {
		return fmt.Errorf("root: %w", err)
	}
	logins := env.Metrics.Counter(loginsOpts, "service", "result")
	files := env.Metrics.Counter(filesOpts, "service", "direction")
	bytes := env.Metrics.Counter(bytesOpts, "service", "direction")
	c := &counters{
		loginOK: logins.WithLabelValues(env.Name, "ok"), loginFailed: logins.WithLabelValues(env.Name, "failed"),
		filesDown: files.WithLabelValues(env.Name, "download"), filesUp: files.WithLabelValues(env.Name, "upload"),
		bytesDown: bytes.WithLabelValues(env.Name, "download"), bytesUp: bytes.WithLabelValues(env.Name, "upload"),
		stats: env.Stats,
	}
	if c.stats == nil {
		c.stats = &service.Stats{}
	}
	var drv *driver // made below; the closure runs only once serving
	var tlsConfig func() *tls.Config
	if s.cfg.certificate != "" {
		tlsConfig = func() *tls.Config { return drv.data.Load().tls }
	}
	var nonce [12]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		_ = root.Close()
		return fmt.Errorf("ftp: %w", err)
	}
	site := "twistd-" + hex.EncodeToString(nonce[:])
	ln := newConnListener(env.Listeners[0].Stream.Addr(), func(nc net.Conn) net.Conn {
		return newPortFilter(nc, tlsConfig, s.cfg.dataTimeout, site)
	})
	settings := &ftpserver.Settings{
		Listener:                ln,
		PublicHost:              s.cfg.passiveAddress,
		Banner:                  s.cfg.banner,
		IdleTimeout:             int(s.cfg.idle.Seconds()),
		ConnectionTimeout:       int(s.cfg.dataTimeout.Seconds()),
		ActiveTransferPortNon20: true,
		DisableActiveMode:       !s.cfg.active,
		// SITE carries the control filter's own replies (the driver's
		// Site refuses every real SITE command).
		DisableSite:            false,
		PublicIPResolver:       passiveIP,
		DisableASCIIConversion: true,
		ActiveConnectionsCheck: ftpserver.IPMatchRequired,
		PasvConnectionsCheck:   ftpserver.IPMatchRequired,
	}
	if s.cfg.portLow != 0 {
		settings.PassiveTransferPortRange = ftpserver.PortRange{Start: s.cfg.portLow, End: s.cfg.portHigh}
	}
	drv = &driver{
		cfg: s.cfg, settings: settings, log: env.Logger, c: c, site: site,
		rw: root, ro: afero.NewReadOnlyFs(root),
		fails:    newFailures(s.cfg.maxPeerFailures, s.cfg.peerWindow),
		sessions: map[ftpserver.ClientContext]*session{},
	}
	drv.data.Store(dt)
	lib := ftpserver.NewFtpServer(drv)
	lib.Logger = slog.New(zapHandler{log: env.Logger})
	if err := lib.Listen(); err != nil {
		_ = root.Close()
		return fmt.Errorf("ftp: %w", err)
	}
	s.proto = service.Protocols{
		Stream:   ln.Factory(),
		Policies: &s.policies,
	}
	if err := s.proto.Start(ctx, env); err != nil {
		_ = root.Close()
		return err
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := lib.Serve(); err != nil {
			env.Fail(fmt.Errorf("ftp: %w", err))
		}
	}()
	s.mu.Lock()
	s.drv, s.root, s.ln, s.served, s.started = drv, root, ln, served, true
	s.mu.Unlock()
	return nil
}

// passiveIP is the address PASV announces when passive_address is not
// set: the one the client connected to, also when it reached an IPv6
// socket as an IPv4-mapped address (the library would take "[" of
// "[::ffff:a.b.c.d]" for it). PASV on an IPv6 connection never gets
// here: the control filter answers it.
func passiveIP(cc ftpserver.ClientContext) (string, error) {
	if a, ok := cc.LocalAddr().(*net.TCPAddr); ok {
		if v4 := a.IP.To4(); v4 != nil {
			return v4.String(), nil
		}
	}
	return "", fmt.Errorf("PASV on %s: not an IPv4 address; use EPSV", cc.LocalAddr())
}

// Stop stops taking sessions and closes the idle ones at once (an FTP
// client may sit idle for idle_timeout); a session in the middle of a
// file transfer is closed once it is done, or when ctx is (the reactor
// closes what is left). Then it releases the root.
func (s *server) Stop(ctx context.Context) error {
	s.mu.Lock()
	started := s.started
	s.started = false
	s.mu.Unlock()
	if !started {
		return nil
	}
	_ = s.ln.Close()
	closer := make(chan struct{})
	go func() {
		defer close(closer)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for s.drv.closeIdle() > 0 {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	err := s.proto.Stop(ctx)
	<-closer
	select {
	case <-s.served:
	case <-ctx.Done():
	}
	_ = s.root.Close()
	return err
}

// Reload re-reads the password file and the certificate; on error the
// service keeps the ones it has.
func (s *server) Reload(context.Context) error {
	s.mu.Lock()
	drv := s.drv
	s.mu.Unlock()
	if drv == nil {
		return nil
	}
	dt, err := s.load()
	if err != nil {
		return err
	}
	drv.data.Store(dt)
	return nil
}

// Reopen reopens the traffic log.
func (s *server) Reopen() error { return s.proto.Reopen() }

var (
	_ service.Service  = (*server)(nil)
	_ service.Reloader = (*server)(nil)
	_ service.Reopener = (*server)(nil)
)

// zapHandler passes the library's warnings and errors to the service's log.
type zapHandler struct {
	log   *zap.Logger
	attrs []slog.Attr
}

func (h zapHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h zapHandler) Handle(_ context.Context, r slog.Record) error {
	fields := make([]zap.Field, 0, len(h.attrs)+r.NumAttrs())
	for _, a := range h.attrs {
		fields = append(fields, zap.Any(a.Key, a.Value.Any()))
	}
	r.Attrs(func(a slog.Attr) bool {
		fields = append(fields, zap.Any(a.Key, a.Value.Any()))
		return true
	})
	if r.Level >= slog.LevelError {
		h.log.Error(r.Message, fields...)
	} else {
		h.log.Warn(r.Message, fields...)
	}
	return nil
}

func (h zapHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return zapHandler{log: h.log, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

func (h zapHandler) WithGroup(string) slog.Handler { return h }
