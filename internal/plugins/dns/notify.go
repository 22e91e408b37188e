package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap"
)

// Defaults of the NOTIFYs a primary sends.
const (
	notifyAttempts = 5
	notifyTimeout  = 2 * time.Second
)

// notifier announces new versions of our zones to the secondaries named
// by also_notify (RFC 1996): a NOTIFY with AA and the zone's SOA in the
// answer, sent over UDP and retried until the secondary answers or the
// attempts are used up. Its zero value sends nothing.
type notifier struct {
	targets  []string // host:port
	local    []netip.Addr
	attempts int
	timeout  time.Duration // for one attempt
	log      *zap.Logger
}

// send tells target that z has a new version, retrying until it answers.
// A secondary that answers with an error (REFUSED, NOTAUTH) has answered:
// it is not asked again.
func (n *notifier) send(ctx context.Context, z *Zone, target string) error {
	m := new(dns.Msg)
	m.SetNotify(z.Origin) // opcode NOTIFY, AA, the question zone/SOA
	m.Answer = []dns.RR{z.SOA}
	c := &dns.Client{Net: "udp", Timeout: n.timeout}
	if a := n.localFor(target); a.IsValid() {
		c.Dialer = &net.Dialer{Timeout: n.timeout, LocalAddr: &net.UDPAddr{IP: a.AsSlice()}}
	}
	var err error
	for attempt := range n.attempts {
		if attempt > 0 {
			m.Id = dns.Id()
		}
		var r *dns.Msg
		r, _, err = c.ExchangeContext(ctx, m, target)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			// Refused connections and timeouts alike: wait out the attempt
			// so a secondary still starting gets its time.
			if !isTimeout(err) {
				t := time.NewTimer(n.timeout)
				select {
				case <-ctx.Done():
					t.Stop()
					return ctx.Err()
				case <-t.C:
				}
			}
			continue
		case r.Opcode != dns.OpcodeNotify:
			return fmt.Errorf("answered with opcode %s", dns.OpcodeToString[r.Opcode])
		case r.Rcode != dns.RcodeSuccess:
			return fmt.Errorf("answered %s", rcodeName(r.Rcode))
		}
		return nil
	}
	return fmt.Errorf("no answer after %d attempts: %w", n.attempts, err)
}

// localFor returns the address to send to target from: an address the
// service listens on when it is a specific one of the target's family and
// reach (loopback or not) — a secondary checks that NOTIFYs come from its
// primary — else none, for the system to choose.
func (n *notifier) localFor(target string) netip.Addr {
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return netip.Addr{}
	}
	to, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	to = to.Unmap()
	for _, a := range n.local {
		if a.Is4() == to.Is4() && a.IsLoopback() == to.IsLoopback() {
			return a
		}
	}
	return netip.Addr{}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// notifyAll sends z's NOTIFY to every target in the background; Stop
// cancels what is still being retried.
func (s *Server) notifyAll(z *Zone) {
	n := s.notifier
	if n == nil || z == nil {
		return
	}
	for _, target := range n.targets {
		s.bg.Go(func() {
			log := n.log.With(zap.String("zone", z.Origin), zap.Uint32("serial", z.Serial()), zap.String("secondary", target))
			if err := n.send(s.ctx, z, target); err != nil {
				if s.ctx.Err() == nil {
					log.Warn("notify failed", zap.Error(err))
				}
				return
			}
			log.Info("notify answered")
		})
	}
}

// listenAddrs returns the specific addresses (not 0.0.0.0 or ::) the
// UDP sockets are bound to.
func listenAddrs(pcs []net.PacketConn) []netip.Addr {
	var out []netip.Addr
	for _, pc := range pcs {
		ap := addrPort(pc.LocalAddr())
		if a := ap.Addr(); a.IsValid() && !a.IsUnspecified() {
			out = append(out, a)
		}
	}
	return out
}
