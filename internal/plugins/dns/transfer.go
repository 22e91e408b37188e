package dns

import (
	"encoding/binary"
	"io"
	"net/netip"

	"github.com/miekg/dns"
	"go.uber.org/zap"
)

// transferChunk is the most we put in one message of a zone transfer.
const transferChunk = 16 << 10

// questionType returns the type of a query's first question without
// parsing the whole message: the header, then the name's labels.
func questionType(raw []byte) (uint16, bool) {
	if len(raw) < 12 || binary.BigEndian.Uint16(raw[4:]) != 1 {
		return 0, false
	}
	off := 12
	for off < len(raw) {
		l := int(raw[off])
		if l == 0 {
			off++
			if off+4 > len(raw) {
				return 0, false
			}
			return binary.BigEndian.Uint16(raw[off:]), true
		}
		if l&0xC0 != 0 {
			return 0, false // no compression in a question we answer this way
		}
		off += 1 + l
	}
	return 0, false
}

// transferRequest returns the parsed query when raw asks for a zone
// transfer (AXFR, or IXFR, answered with a single SOA when the client is
// up to date and else with the whole zone, as RFC 1995 §2 and §4 allow),
// nil otherwise.
func transferRequest(raw []byte) *dns.Msg {
	t, ok := questionType(raw)
	if !ok || (t != dns.TypeAXFR && t != dns.TypeIXFR) || raw[2]&0x80 != 0 {
		return nil
	}
	req := new(dns.Msg)
	if err := req.Unpack(raw); err != nil || req.Opcode != dns.OpcodeQuery || len(req.Question) != 1 {
		return nil
	}
	return req
}

// allowed reports whether a client may transfer our zones.
func (h *Handler) allowed(a netip.Addr) bool {
	for _, p := range h.axfr {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// transferOut sends a zone to a client allowed by axfr_allow (RFC 5936):
// the SOA, every record, the SOA again, in messages of about 16 KiB.
// Others get REFUSED; a zone we do not have, NOTAUTH; a secondary zone
// without data, SERVFAIL.
func (s *Server) transferOut(w io.Writer, req *dns.Msg, src netip.AddrPort) error {
	q := req.Question[0]
	z, ok := s.h.data.Load().zones[dns.CanonicalName(q.Name)]
	m := new(dns.Msg)
	m.SetReply(req)
	switch {
	case !s.h.allowed(src.Addr()):
		s.log.Info("zone transfer refused", zap.Stringer("client", src), zap.String("zone", q.Name))
		m.Rcode = dns.RcodeRefused
	case !ok:
		m.Rcode = dns.RcodeNotAuth
	case z == nil:
		m.Rcode = dns.RcodeServerFailure
	case q.Qtype == dns.TypeIXFR && clientSOA(req) == nil:
		m.Rcode = dns.RcodeFormatError
	case q.Qtype == dns.TypeIXFR && upToDate(clientSOA(req), z):
		// Nothing newer to send: our SOA alone says so (RFC 1995 §2),
		// without AA, as Knot answers.
		m.Answer = []dns.RR{z.SOA}
		s.h.counters.inc(q.Qtype, m.Rcode)
		return s.writeMsg(w, m)
	}
	if m.Rcode != dns.RcodeSuccess {
		s.h.counters.inc(q.Qtype, m.Rcode)
		return s.writeMsg(w, m)
	}
	s.log.Info("zone transfer", zap.Stringer("client", src), zap.String("zone", z.Origin), zap.Uint32("serial", z.Serial()))
	m.Authoritative = true
	m.Compress = true
	size := 0
	records := append(append([]dns.RR(nil), z.Records()...), z.SOA)
	for _, rr := range records {
		l := dns.Len(rr)
		if size+l > transferChunk && len(m.Answer) > 0 {
			if err := s.writeMsg(w, m); err != nil {
				return err
			}
			m = &dns.Msg{MsgHdr: m.MsgHdr, Compress: true}
			size = 0
		}
		m.Answer = append(m.Answer, rr)
		size += l
	}
	s.h.counters.inc(q.Qtype, dns.RcodeSuccess)
	return s.writeMsg(w, m)
}

// clientSOA returns the SOA an IXFR query carries, the first record of
// its authority section and owned by the zone asked for (RFC 1995 §3);
// nil when it has none, which makes the query malformed (FORMERR, as
// Knot answers: checked after the client's right to transfer the zone).
func clientSOA(req *dns.Msg) *dns.SOA {
	if len(req.Ns) == 0 {
		return nil
	}
	soa, ok := req.Ns[0].(*dns.SOA)
	if !ok || nameKey(soa.Hdr.Name) != nameKey(req.Question[0].Name) {
		return nil
	}
	return soa
}

// upToDate reports whether the client's SOA has z's serial or a later
// one, in serial number arithmetic (RFC 1982).
func upToDate(soa *dns.SOA, z *Zone) bool {
	return int32(soa.Serial-z.Serial()) >= 0
}

// ixfrOverUDP answers an IXFR over UDP as RFC 1995 §2 allows: with our
// SOA alone, which tells a client with that serial it is up to date and
// any other to ask again over TCP, as the whole answer would not fit.
// Clients not allowed to transfer get REFUSED, as over TCP.
func (h *Handler) ixfrOverUDP(req, m *dns.Msg, src netip.AddrPort) {
	z, ok := h.data.Load().zones[dns.CanonicalName(req.Question[0].Name)]
	switch {
	case !h.allowed(src.Addr()):
		m.Rcode = dns.RcodeRefused
	case !ok:
		m.Rcode = dns.RcodeNotAuth
	case z == nil:
		m.Rcode = dns.RcodeServerFailure
	case clientSOA(req) == nil:
		m.Rcode = dns.RcodeFormatError
	default:
		m.Answer = []dns.RR{z.SOA} // without AA, as over TCP
	}
}

// writeMsg packs m and writes it length-prefixed.
func (s *Server) writeMsg(w io.Writer, m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	return writeFrame(w, b)
}
