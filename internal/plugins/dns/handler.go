package dns

import (
	"context"
	"encoding/binary"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap"
)

// Our EDNS0 UDP payload size (the DNS flag day 2020 value) and the size
// of UDP answers to clients without EDNS0.
const (
	ednsSize  = 1232
	plainSize = dns.MinMsgSize
)

// Handler answers DNS messages from a service's data. It is safe for
// concurrent use; its data is swapped atomically on reloads and transfers.
type Handler struct {
	log       *zap.Logger
	data      atomic.Pointer[store]
	answers   atomic.Pointer[answerCache] // packed UDP answers of the current data
	fwd       *forwarder                  // nil: names outside our data are refused
	axfr      []netip.Prefix
	notify    func(zone string, from netip.Addr) bool // a NOTIFY arrived; false: refuse it
	rrl       *rrl                                    // nil: no rate limit
	queryLog  bool
	counters  *counters
	cacheSize int // entries of the answer cache
}

// source says where an answer came from, for the answer cache and the query log.
type source uint8

const (
	fromData     source = iota // zones, hosts file or a refusal: depends on the question only
	fromUpstream               // the forwarder: not kept in the answer cache
	fromError                  // FORMERR, NOTIMP, BADVERS
)

// setData swaps in new data and drops the answers packed from the old.
func (h *Handler) setData(s *store) {
	h.data.Store(s)
	h.answers.Store(newAnswerCache(h.cacheSize, defaultAnswerCacheBytes))
}

// reply is the handler's decision about one message.
type reply struct {
	msg     *dns.Msg // nil: send nothing
	src     source
	forward bool // msg is only the question: ask upstream
	glue    int  // msg.Extra's first records that must fit, or TC (a referral's in-domain glue)
	qname   string
	qtype   uint16
	// cache is the answer cache as it was before the data was read: an
	// answer worked out from data that setData has since replaced goes
	// into the cache dropped with that data, never into its successor.
	cache *answerCache
}

// decide works out the answer to raw from src. It does not touch the
// network: forwarding, when needed, is left to the caller (reply.forward).
func (h *Handler) decide(raw []byte, src netip.AddrPort, tcp bool) (req *dns.Msg, rep reply) {
	if len(raw) < 12 || raw[2]&0x80 != 0 {
		return nil, reply{} // no header, or a response: drop it
	}
	req = new(dns.Msg)
	if err := req.Unpack(raw); err != nil {
		return nil, reply{msg: formErr(raw), src: fromError}
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.Question = req.Question // all of them, for FORMERR
	// The cache first, then the data: setData stores them the other way
	// round, so the data read below is at least as new as this cache.
	rep = reply{msg: m, src: fromError, cache: h.answers.Load()}
	if len(req.Question) == 1 {
		rep.qname, rep.qtype = req.Question[0].Name, req.Question[0].Qtype
	}
	switch {
	case req.Opcode == dns.OpcodeNotify:
		return req, h.notified(req, m, src)
	case req.Opcode != dns.OpcodeQuery:
		m.Rcode = dns.RcodeNotImplemented
		return req, rep
	case len(req.Question) != 1 || countOPT(req.Extra) > 1:
		// More than one OPT record is a FORMERR too (RFC 6891 §6.1.1).
		m.Rcode = dns.RcodeFormatError
		return req, rep
	}
	if opt := req.IsEdns0(); opt != nil && opt.Version() != 0 {
		m.Rcode = dns.RcodeBadVers // finish adds the OPT that carries it
		return req, rep
	}
	q := req.Question[0]
	rep.src = fromData
	switch {
	case q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY:
		m.Rcode = dns.RcodeRefused
		return req, rep
	case q.Qtype == dns.TypeIXFR && !tcp:
		h.ixfrOverUDP(req, m, src)
		rep.src = fromError
		return req, rep
	case q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR:
		// Transfers are the TCP loop's (transfer.go); AXFR over UDP is not served.
		m.Rcode = dns.RcodeRefused
		if !tcp {
			m.Rcode = dns.RcodeNotImplemented
		}
		rep.src = fromError
		return req, rep
	case q.Qtype == dns.TypeOPT || q.Qtype == dns.TypeTSIG || q.Qtype == dns.TypeTKEY:
		m.Rcode = dns.RcodeFormatError
		rep.src = fromError
		return req, rep
	}
	res, ok := h.data.Load().resolve(q.Name, q.Qtype)
	switch {
	case ok:
		m.Rcode = res.rcode
		m.Authoritative = res.authoritative
		m.Answer, m.Ns, m.Extra = res.answer, res.ns, res.extra
		rep.glue = res.glue
	case h.fwd != nil:
		rep.forward, rep.src = true, fromUpstream
	default:
		m.Rcode = dns.RcodeRefused
	}
	return req, rep
}

// formErr answers a message that does not parse with its header only.
func formErr(raw []byte) *dns.Msg {
	m := new(dns.Msg)
	m.Id = binary.BigEndian.Uint16(raw)
	m.Response = true
	m.Opcode = int(raw[2]>>3) & 0xF
	m.RecursionDesired = raw[2]&1 != 0
	m.Rcode = dns.RcodeFormatError
	return m
}

// pack finishes a reply to req for its transport — our OPT record when
// the client sent one, truncation to the client's UDP size — and packs it
// into buf (reused when large enough). The first glue records of
// m.Extra are required: see truncate.
func pack(req, m *dns.Msg, tcp bool, glue int, buf []byte) ([]byte, error) {
	size := plainSize
	if tcp {
		size = dns.MaxMsgSize
	}
	if req != nil {
		if opt := req.IsEdns0(); opt != nil {
			m.Extra = withoutOPT(m.Extra)
			m.SetEdns0(ednsSize, opt.Do())
			if !tcp {
				size = min(max(int(opt.UDPSize()), plainSize), ednsSize)
			}
		}
	}
	m.Compress = true
	truncate(m, size, glue)
	return m.PackBuffer(buf)
}

// truncate makes m fit in size bytes. Additional records that do not fit
// are left out without TC: they are optional, and TC would send the
// client to TCP for nothing (RFC 2181 §9) — all but the first glue ones,
// a referral's in-domain glue, which are not (RFC 9471 §3). When the
// answer or authority section or the required glue does not fit, TC is
// set and the message ends with the last whole RRset that fits: no RRset
// is sent in part. m.Compress must be set.
func truncate(m *dns.Msg, size, glue int) {
	if m.Len() <= size {
		return
	}
	var opt []dns.RR
	extra := m.Extra
	if n := len(extra); n > 0 && extra[n-1].Header().Rrtype == dns.TypeOPT {
		opt, extra = extra[n-1:], extra[:n-1]
		size -= dns.Len(opt[0]) // at the root: compression does not shorten it
	}
	glue = min(glue, len(extra))
	from := [...][]dns.RR{m.Answer, m.Ns, extra[:glue], extra[glue:]}
	to := [...]*[]dns.RR{&m.Answer, &m.Ns, &m.Extra, &m.Extra}
	m.Answer, m.Ns, m.Extra = nil, nil, nil
sections:
	for i, sec := range to {
		for _, set := range rrsets(from[i]) {
			n := len(*sec)
			*sec = append(*sec, set...)
			if m.Len() <= size {
				continue
			}
			*sec = (*sec)[:n]
			if i < len(to)-1 {
				m.Truncated = true
				break sections
			}
			// A smaller optional RRset further on may still fit (as Knot fills it).
		}
	}
	m.Extra = append(m.Extra, opt...)
}

// rrsets splits a section into its RRsets: runs of records of one owner,
// type and class.
func rrsets(rrs []dns.RR) [][]dns.RR {
	var out [][]dns.RR
	for i := 0; i < len(rrs); {
		j := i + 1
		for j < len(rrs) && sameSet(rrs[i], rrs[j]) {
			j++
		}
		out = append(out, rrs[i:j])
		i = j
	}
	return out
}

func sameSet(a, b dns.RR) bool {
	ha, hb := a.Header(), b.Header()
	return ha.Rrtype == hb.Rrtype && ha.Class == hb.Class && strings.EqualFold(ha.Name, hb.Name)
}

// countOPT returns how many OPT records rrs holds.
func countOPT(rrs []dns.RR) int {
	n := 0
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			n++
		}
	}
	return n
}

// withoutOPT drops OPT records (an upstream's) from an additional section.
func withoutOPT(rrs []dns.RR) []dns.RR {
	out := rrs[:0:0]
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, rr)
		}
	}
	return out
}

// exchange answers one message completely — forwarding included — and
// returns the packed reply (nil: drop). It is the TCP path; src is the client.
func (h *Handler) exchange(ctx context.Context, raw []byte, src netip.AddrPort, tcp bool, buf []byte) []byte {
	start := time.Now()
	req, rep := h.decide(raw, src, tcp)
	if rep.msg == nil {
		return nil
	}
	return h.respond(ctx, req, rep, raw, src, tcp, buf, start)
}

// respond carries out a decision: asks upstream when needed, packs the
// reply into buf, keeps it in the answer cache when it depends on the
// question alone (raw, UDP only; raw may be nil), and counts it.
func (h *Handler) respond(ctx context.Context, req *dns.Msg, rep reply, raw []byte, src netip.AddrPort, tcp bool, buf []byte, start time.Time) []byte {
	if rep.forward {
		rep.msg = h.fwd.resolve(ctx, req)
	}
	out, err := pack(req, rep.msg, tcp, rep.glue, buf)
	if err != nil {
		h.log.Debug("cannot pack reply", zap.Error(err), zap.String("name", rep.qname))
		if req == nil {
			return nil
		}
		rep.msg = serverFailure(req)
		if out, err = pack(req, rep.msg, tcp, 0, buf); err != nil {
			return nil
		}
	}
	if !tcp && raw != nil && rep.src == fromData && rep.cache != nil {
		rep.cache.put(raw, out, rep.qname, rep.qtype, rep.msg.Rcode)
	}
	h.count(src, rep.qname, rep.qtype, rep.msg.Rcode, tcp, start)
	return out
}

// serverFailure is a SERVFAIL reply to req.
func serverFailure(req *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeServerFailure)
	return m
}

// count updates the counters and, when on, writes the query log line.
func (h *Handler) count(src netip.AddrPort, qname string, qtype uint16, rcode int, tcp bool, start time.Time) {
	h.counters.inc(qtype, rcode)
	if h.counters != nil && h.counters.duration != nil {
		h.counters.duration.Observe(time.Since(start).Seconds())
	}
	if h.queryLog {
		h.logQuery(src, qname, qtype, rcode, tcp, time.Since(start))
	}
}

// notified answers a NOTIFY (RFC 1996): for a secondary zone of ours from
// its primary it triggers a refresh and says so; others are refused.
func (h *Handler) notified(req, m *dns.Msg, src netip.AddrPort) reply {
	rep := reply{msg: m, src: fromError}
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return rep
	}
	q := req.Question[0]
	rep.qname, rep.qtype = q.Name, q.Qtype
	if h.notify == nil || !h.notify(q.Name, src.Addr()) {
		m.Rcode = dns.RcodeRefused
		return rep
	}
	m.Authoritative = true
	return rep
}
