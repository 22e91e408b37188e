package dns

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// rrlVerdict is what the limiter says about one response.
type rrlVerdict uint8

const (
	rrlSend rrlVerdict = iota // within the rate
	rrlDrop                   // over it: send nothing
	rrlSlip                   // over it: send a truncated reply, so real clients retry over TCP
)

// rrlBuckets is the size of the limiter's table: client networks share a
// bucket when they hash alike, which errs on the side of limiting.
const rrlBuckets = 1 << 14

// rrl limits UDP responses per client network (IPv4 /24, IPv6 /56) with a
// token bucket of rate responses per second and a burst of as many —
// response-rate limiting in the manner of BIND and Knot, so that forged
// sources cannot turn the server into an amplifier. Every slip-th limited
// response is sent truncated instead of dropped.
type rrl struct {
	rate float64
	slip int
	now  func() time.Time
	seed maphash.Seed

	mu      sync.Mutex
	buckets [rrlBuckets]bucket
}

type bucket struct {
	tokens  float64
	last    time.Time
	limited int
}

func newRRL(rate, slip int, now func() time.Time) *rrl {
	return &rrl{rate: float64(rate), slip: slip, now: now, seed: maphash.MakeSeed()}
}

// check spends a token of a's network.
func (r *rrl) check(a netip.Addr) rrlVerdict {
	var key [9]byte
	if a.Is4() {
		b := a.As4()
		copy(key[:3], b[:3])
	} else {
		b := a.As16()
		copy(key[:7], b[:7])
		key[8] = 6
	}
	i := binary.LittleEndian.Uint64(key[:8]) ^ uint64(key[8])
	idx := maphash.Comparable(r.seed, i) % rrlBuckets
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	b := &r.buckets[idx]
	if b.last.IsZero() {
		b.tokens = r.rate
	} else {
		b.tokens = min(r.rate, b.tokens+now.Sub(b.last).Seconds()*r.rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return rrlSend
	}
	b.limited++
	if r.slip > 0 && b.limited%r.slip == 0 {
		return rrlSlip
	}
	return rrlDrop
}

// truncatedReply builds, into buf, an empty reply with TC set that
// repeats the query's question; nil when the query is not one we answer.
func truncatedReply(query, buf []byte) []byte {
	if _, ok := questionType(query); !ok || query[2]&0x80 != 0 {
		return nil
	}
	// The question ends 4 bytes after the name's terminating zero label.
	end := 12
	for query[end] != 0 {
		end += 1 + int(query[end])
	}
	end += 5
	out := append(buf[:0], query[:end]...)
	out[2] = out[2]&0x79 | 0x80 | 0x02 // QR, keep opcode and RD, set TC, clear AA
	out[3] = 0                         // RA, Z, AD, CD and rcode
	binary.BigEndian.PutUint16(out[6:], 0)
	binary.BigEndian.PutUint16(out[8:], 0)
	binary.BigEndian.PutUint16(out[10:], 0)
	return out
}
