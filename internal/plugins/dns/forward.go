package dns

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap"
)

// forwardBudget is how long one question may take upstream, all upstreams
// and retries included: past it the client gets SERVFAIL.
const forwardBudget = 1500 * time.Millisecond

// forwarder sends questions outside our data to upstream servers: over UDP,
// again over TCP when the answer comes back truncated, and to the next
// upstream when one fails or times out. Answers are cached when a cache is set.
type forwarder struct {
	upstreams []string // host:port
	udp, tcp  *dns.Client
	cache     *cache
	log       *zap.Logger
}

func newForwarder(upstreams []string, c *cache, log *zap.Logger) *forwarder {
	return &forwarder{
		upstreams: upstreams,
		udp:       &dns.Client{Net: "udp", UDPSize: ednsSize},
		tcp:       &dns.Client{Net: "tcp"},
		cache:     c,
		log:       log,
	}
}

// resolve answers req from the cache or upstream; SERVFAIL when no
// upstream answers within forwardBudget.
func (f *forwarder) resolve(ctx context.Context, req *dns.Msg) *dns.Msg {
	key := cacheKey(req)
	if m := f.cache.get(key); m != nil {
		return asReplyTo(req, m)
	}
	ctx, cancel := context.WithTimeout(ctx, forwardBudget)
	defer cancel()
	up := new(dns.Msg)
	up.Id = dns.Id()
	up.RecursionDesired = req.RecursionDesired
	up.CheckingDisabled = req.CheckingDisabled
	up.Question = req.Question
	up.SetEdns0(ednsSize, false)
	if opt := req.IsEdns0(); opt != nil && opt.Do() {
		up.SetEdns0(ednsSize, true)
	}
	per := max(forwardBudget/time.Duration(len(f.upstreams)), 300*time.Millisecond)
	var fallback *dns.Msg
	for _, u := range f.upstreams {
		if ctx.Err() != nil {
			break
		}
		m, err := f.ask(ctx, per, up, u)
		if err != nil {
			f.log.Debug("upstream failed", zap.String("upstream", u), zap.String("name", req.Question[0].Name), zap.Error(err))
			continue
		}
		if m.Rcode == dns.RcodeServerFailure || m.Rcode == dns.RcodeRefused {
			fallback = m // another upstream may do better
			continue
		}
		f.cache.put(key, m)
		return asReplyTo(req, m)
	}
	if fallback != nil {
		return asReplyTo(req, fallback)
	}
	f.log.Warn("no upstream answered", zap.String("name", req.Question[0].Name), zap.Strings("upstreams", f.upstreams))
	m := serverFailure(req)
	m.RecursionAvailable = true
	return m
}

// ask puts one question to one upstream within per.
func (f *forwarder) ask(ctx context.Context, per time.Duration, up *dns.Msg, addr string) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, per)
	defer cancel()
	m, _, err := f.udp.ExchangeContext(ctx, up, addr)
	if err == nil && m.Truncated {
		m, _, err = f.tcp.ExchangeContext(ctx, up, addr)
	}
	return m, err
}

// asReplyTo makes an upstream answer the reply to req: its ID and
// question, without AA (the data is not ours) and with RA.
func asReplyTo(req, m *dns.Msg) *dns.Msg {
	m.Id = req.Id
	m.Authoritative = false
	m.RecursionAvailable = true
	m.Question = req.Question
	m.RecursionDesired = req.RecursionDesired
	m.Extra = withoutOPT(m.Extra)
	return m
}

// upstreamAddr adds port 53 to an address without one.
func upstreamAddr(s string) (string, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.String(), nil
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return netip.AddrPortFrom(a.WithZone(""), 53).String(), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("%q is not an address such as 9.9.9.9:53", s)
	}
	return net.JoinHostPort(host, port), nil
}

// parseResolvConf returns the nameserver addresses of a resolv.conf(5) file.
func parseResolvConf(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil {
				out = append(out, netip.AddrPortFrom(a, 53).String())
			}
		}
	}
	return out, sc.Err()
}
