package dns

import (
	"net/netip"
	"time"

	"go.uber.org/zap"
)

// logQuery writes one query log line: client, name, type, rcode and the
// time taken in microseconds (twistd dns --verbose, query_log: true).
func (h *Handler) logQuery(src netip.AddrPort, qname string, qtype uint16, rcode int, tcp bool, took time.Duration) {
	proto := "udp"
	if tcp {
		proto = "tcp"
	}
	h.log.Info("query",
		zap.String("client", src.String()),
		zap.String("proto", proto),
		zap.String("name", qname),
		zap.String("type", typeName(qtype)),
		zap.String("rcode", rcodeName(rcode)),
		zap.Int64("us", took.Microseconds()))
}
