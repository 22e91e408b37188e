package dns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap"
)

// Timings of a secondary zone before its first SOA tells them.
const (
	firstRetry     = 2 * time.Second
	maxFirstRetry  = time.Minute
	refreshTimeout = 5 * time.Second
	transferLimit  = 5 * time.Minute
)

// secondary keeps one zone in step with its primary (RFC 1034 §4.3.5,
// RFC 1996, RFC 5936): a transfer at start, then a serial check every SOA
// refresh interval (every retry interval after a failure), a transfer when
// the serial grew, and no data once expire has passed without reaching
// the primary. A NOTIFY from the primary checks at once.
type secondary struct {
	origin  string
	primary string // host:port
	log     *zap.Logger
	wake    chan struct{}
	now     func() time.Time
	udp     *dns.Client
}

func newSecondary(origin, primary string) *secondary {
	return &secondary{origin: origin, primary: primary, log: zap.NewNop(), wake: make(chan struct{}, 1),
		now: time.Now, udp: &dns.Client{Net: "udp", Timeout: refreshTimeout}}
}

// refreshNow asks the zone's loop to check its primary at once.
func (s *secondary) refreshNow() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// fromPrimary reports whether a NOTIFY's source is the zone's primary.
func (s *secondary) fromPrimary(a netip.Addr) bool {
	host, _, err := net.SplitHostPort(s.primary)
	if err != nil {
		return false
	}
	if p, err := netip.ParseAddr(host); err == nil {
		return p.Unmap() == a.Unmap()
	}
	addrs, err := net.LookupHost(host)
	if err != nil {
		return false
	}
	for _, h := range addrs {
		if p, err := netip.ParseAddr(h); err == nil && p.Unmap() == a.Unmap() {
			return true
		}
	}
	return false
}

// run keeps the zone until ctx ends; set publishes each new state of it
// (nil: no usable data).
func (s *secondary) run(ctx context.Context, set func(origin string, z *Zone)) {
	var (
		zone   *Zone
		lastOK time.Time // last time the primary confirmed our data
		retry  = firstRetry
	)
	for {
		next, err := s.refresh(ctx, zone)
		switch {
		case err == nil:
			lastOK = s.now()
			retry = firstRetry
			if next != zone {
				zone = next
				set(s.origin, zone)
				s.log.Info("zone transferred", zap.Uint32("serial", zone.Serial()), zap.Int("records", zone.Len()))
			}
		case ctx.Err() != nil:
			return
		default:
			s.log.Warn("zone refresh failed", zap.String("primary", s.primary), zap.Error(err))
		}
		var wait time.Duration
		switch {
		case zone == nil:
			wait, retry = retry, min(retry*2, maxFirstRetry)
		case err != nil:
			wait = seconds(zone.SOA.Retry)
		default:
			wait = seconds(zone.SOA.Refresh)
		}
		if zone != nil {
			expiry := lastOK.Add(seconds(zone.SOA.Expire))
			if !s.now().Before(expiry) {
				s.log.Error("zone expired: answering SERVFAIL until the primary is reached",
					zap.String("primary", s.primary), zap.Uint32("serial", zone.Serial()))
				zone = nil
				set(s.origin, nil)
				wait = retry
			} else {
				wait = min(wait, expiry.Sub(s.now()))
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

func seconds(n uint32) time.Duration { return time.Duration(n) * time.Second }

// refresh checks the primary's serial and transfers the zone when it is
// newer than cur's (always when cur is nil). It returns the zone to keep.
func (s *secondary) refresh(ctx context.Context, cur *Zone) (*Zone, error) {
	if cur != nil {
		serial, err := s.primarySerial(ctx)
		if err != nil {
			return cur, err
		}
		if !serialNewer(serial, cur.Serial()) {
			return cur, nil
		}
	}
	return s.transfer(ctx)
}

// primarySerial asks the primary for the zone's SOA.
func (s *secondary) primarySerial(ctx context.Context) (uint32, error) {
	q := new(dns.Msg)
	q.SetQuestion(s.origin, dns.TypeSOA)
	r, _, err := s.udp.ExchangeContext(ctx, q, s.primary)
	if err != nil {
		return 0, fmt.Errorf("SOA query to %s: %w", s.primary, err)
	}
	for _, rr := range r.Answer {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa.Serial, nil
		}
	}
	return 0, fmt.Errorf("SOA query to %s: no SOA in the answer (rcode %s)", s.primary, rcodeName(r.Rcode))
}

// transfer fetches the whole zone by AXFR.
func (s *secondary) transfer(ctx context.Context) (*Zone, error) {
	q := new(dns.Msg)
	q.SetAxfr(s.origin)
	d := net.Dialer{Timeout: refreshTimeout}
	conn, err := d.DialContext(ctx, "tcp", s.primary)
	if err != nil {
		return nil, fmt.Errorf("AXFR from %s: %w", s.primary, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	_ = conn.SetDeadline(time.Now().Add(transferLimit))
	t := &dns.Transfer{Conn: &dns.Conn{Conn: conn}, DialTimeout: refreshTimeout, ReadTimeout: refreshTimeout}
	envs, err := t.In(q, s.primary)
	if err != nil {
		return nil, fmt.Errorf("AXFR from %s: %w", s.primary, err)
	}
	var rrs []dns.RR
	for e := range envs {
		if e.Error != nil {
			return nil, fmt.Errorf("AXFR from %s: %w", s.primary, e.Error)
		}
		rrs = append(rrs, e.RR...)
	}
	z, err := NewZone(s.origin, rrs)
	if err != nil {
		return nil, fmt.Errorf("AXFR from %s: %w", s.primary, err)
	}
	return z, nil
}

// serialNewer compares SOA serials in serial number arithmetic (RFC 1982).
func serialNewer(a, b uint32) bool { return a != b && int32(a-b) > 0 }
