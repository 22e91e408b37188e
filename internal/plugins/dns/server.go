package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap"

	"github.com/twistd-go/twistd/policy"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// Server is the dns service: it answers over every UDP and TCP socket it
// is given, keeps its secondary zones fresh, and re-reads its files on
// Reload. Its zero value is not usable: the maker builds it.
type Server struct {
	cfg     settings
	h       *Handler
	files   *files
	log     *zap.Logger
	env     *service.Env
	seconds map[string]*secondary // by origin
	// notifier sends NOTIFYs to also_notify's secondaries; nil without them.
	notifier *notifier

	// ctx ends background work (secondaries, forwarded UDP queries) on Stop.
	ctx    context.Context
	cancel context.CancelFunc
	bg     sync.WaitGroup

	mu       sync.Mutex
	stopping bool
	handles  []interface{ Close() error } // the UDP sockets' handles, closed on Stop
	loops    sync.WaitGroup               // UDP workers
	streams  []service.Server             // the reactor's loops on the TCP sockets
	sessions map[*tcpSession]struct{}     // open TCP connections
	policy   *policy.Policy               // the TCP connections' policies
	dataMu   sync.Mutex                   // serialises data swaps
	fwdSlots chan struct{}                // bounds concurrent forwarded queries
}

// newServer loads the zones and hosts file of cfg and builds the service.
func newServer(cfg settings) (*Server, error) {
	s := &Server{cfg: cfg, log: zap.NewNop(), seconds: make(map[string]*secondary),
		sessions: make(map[*tcpSession]struct{}), fwdSlots: make(chan struct{}, 1024)}
	s.files = newFiles(cfg.hostsFile, cfg.zones)
	st, err := s.files.load(nil, true)
	if err != nil {
		return nil, err
	}
	st.ttl = cfg.ttl
	for _, sec := range cfg.secondaries {
		if _, dup := st.zones[sec.zone]; dup {
			return nil, fmt.Errorf("zone %s is both a zone file and a secondary zone", sec.zone)
		}
		st.zones[sec.zone] = nil // SERVFAIL until the first transfer
		s.seconds[sec.zone] = newSecondary(sec.zone, sec.primary)
	}
	s.h = &Handler{log: s.log, axfr: cfg.axfrAllow, queryLog: cfg.queryLog, cacheSize: cfg.answerCache, notify: s.notified}
	if len(cfg.upstreams) > 0 {
		s.h.fwd = newForwarder(cfg.upstreams, newCache(cfg.cacheSize, time.Now), s.log)
	}
	if cfg.rrlRate > 0 {
		s.h.rrl = newRRL(cfg.rrlRate, cfg.rrlSlip, time.Now)
	}
	s.h.setData(st)
	return s, nil
}

// Handler returns the server's query handler (for tests and fuzzing).
func (s *Server) Handler() *Handler { return s.h }

// Start serves on env's sockets and starts the secondary zones' transfers.
func (s *Server) Start(ctx context.Context, env *service.Env) error {
	s.env = env
	s.log = env.Logger
	s.h.log = env.Logger
	if s.h.fwd != nil {
		s.h.fwd.log = env.Logger
	}
	s.h.counters = newCounters(env.Metrics.Counter(dnsQueries, "service", "qtype", "rcode"), env.Name)
	s.h.counters.duration = env.Metrics.Histogram(dnsDuration, "service").WithLabelValues(env.Name)
	for _, l := range env.Listeners {
		if l.Stream == nil && l.Packet == nil {
			return fmt.Errorf("listen %s: no socket", l.Endpoint)
		}
	}
	st := s.h.data.Load()
	for origin, z := range st.zones {
		if z != nil {
			s.log.Info("serving zone", zap.String("zone", origin), zap.Uint32("serial", z.Serial()), zap.Int("records", z.Len()))
		}
	}
	if st.hosts != nil {
		s.log.Info("serving hosts file", zap.String("file", s.cfg.hostsFile), zap.Int("names", st.hosts.Len()))
	}
	pol, err := policy.New(s.cfg.policies, s.log, env.Stats)
	if err != nil {
		return fmt.Errorf("policies: %w", err)
	}
	s.policy = pol
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if len(s.cfg.alsoNotify) > 0 {
		var pcs []net.PacketConn
		for _, l := range env.Listeners {
			if l.Packet != nil {
				pcs = append(pcs, l.Packet)
			}
		}
		s.notifier = &notifier{targets: s.cfg.alsoNotify, local: listenAddrs(pcs),
			attempts: notifyAttempts, timeout: notifyTimeout, log: s.log}
	}
	sessions := pol.WrapFactory(protocol.FactoryFunc(s.newSession))
	for _, l := range env.Listeners {
		switch {
		case l.Packet != nil:
			s.handles = append(s.handles, l.Packet)
			s.serveUDP(l.Packet)
		case l.Stream != nil:
			// DNS over TLS's ALPN name (RFC 7858, IANA's "dot").
			s.streams = append(s.streams, env.Runner.ServeStream(l.WithALPN("dot"), sessions))
		}
	}
	for _, sec := range s.seconds {
		sec.log = s.log.With(zap.String("zone", sec.origin))
		s.bg.Go(func() { sec.run(s.ctx, s.setZone) })
	}
	// Secondaries may have missed what changed while we were down (or
	// while the service we replace was running): tell them, as BIND does
	// at start.
	for origin, z := range st.zones {
		if s.seconds[origin] == nil {
			s.notifyAll(z)
		}
	}
	return nil
}

// Stop stops reading and accepting, lets TCP connections finish the
// queries in flight until ctx ends, then closes them.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopping = true
	handles, streams := s.handles, s.streams
	s.handles, s.streams = nil, nil
	sessions := make([]*tcpSession, 0, len(s.sessions))
	for c := range s.sessions {
		sessions = append(sessions, c)
	}
	s.mu.Unlock()
	for _, h := range handles {
		_ = h.Close()
	}
	// Idle connections close now, busy ones once answered; the reactor's
	// loops stop accepting and abort what is left when ctx ends.
	for _, c := range sessions {
		c.drain()
	}
	errs := make([]error, len(streams))
	var wg sync.WaitGroup
	for i, l := range streams {
		wg.Go(func() { errs[i] = l.Shutdown(ctx) })
	}
	wg.Wait()
	s.cancel()
	s.loops.Wait()
	s.bg.Wait()
	if s.policy != nil {
		_ = s.policy.Close()
	}
	return errors.Join(errs...)
}

// Reopen reopens the policies' traffic log (SIGUSR1).
func (s *Server) Reopen() error {
	if s.policy == nil {
		return nil
	}
	return s.policy.Reopen()
}

// Reload re-reads the zone files and hosts file that changed (by mtime or
// size). A file that no longer parses keeps its previous contents; its
// error is returned, for the reactor to log once.
func (s *Server) Reload(context.Context) error {
	s.dataMu.Lock()
	defer s.dataMu.Unlock()
	old := s.h.data.Load()
	st, err := s.files.load(old, false)
	if st == old {
		return err
	}
	st.ttl = s.cfg.ttl
	for origin := range s.seconds {
		st.zones[origin] = old.zones[origin]
	}
	s.h.setData(st)
	s.log.Info("reloaded zones and hosts file", zap.Int("zones", len(st.zones)), zap.Int("hosts", st.hosts.Len()))
	// A zone whose records changed under the same serial is not
	// notified: files.load has warned about it, with its file, once.
	for origin, z := range st.zones {
		prev := old.zones[origin]
		if s.seconds[origin] == nil && z != prev && (prev == nil || z.Serial() != prev.Serial()) {
			s.notifyAll(z)
		}
	}
	return err
}

// setZone swaps in a secondary zone's new data (nil: no usable data).
func (s *Server) setZone(origin string, z *Zone) {
	s.dataMu.Lock()
	defer s.dataMu.Unlock()
	s.h.setData(s.h.data.Load().with(origin, z))
}

// notified triggers the refresh of a secondary zone when its primary
// sends a NOTIFY; it refuses NOTIFYs for other zones or from elsewhere.
func (s *Server) notified(zone string, from netip.Addr) bool {
	sec := s.seconds[dns.CanonicalName(zone)]
	if sec == nil || !sec.fromPrimary(from) {
		return false
	}
	sec.log.Info("notify received; refreshing", zap.Stringer("from", from))
	sec.refreshNow()
	return true
}

// isStopping reports whether Stop has begun.
func (s *Server) isStopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

// errClosed reports whether err means the socket handle was closed.
func errClosed(err error) bool { return errors.Is(err, net.ErrClosed) }

var (
	_ service.Service  = (*Server)(nil)
	_ service.Reloader = (*Server)(nil)
	_ service.Reopener = (*Server)(nil)
)
