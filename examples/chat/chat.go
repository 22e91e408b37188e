// Package chat is Twisted's classic chat server as a twistd plugin: each
// client picks a nick (its first line, or /nick NAME later), every line it
// sends is broadcast to everyone else in the room, and /quit leaves.
//
// # Design
//
// Each connection is a Protocol (a chatter) built by the service's Factory.
// The reactor calls one chatter's callbacks — ConnectionMade, DataReceived,
// ConnectionLost and the timers it sets with CallLater — one at a time,
// never concurrently, so a chatter's own state (its nick, its line buffer,
// its nick timer) needs no lock. The only state shared between connections
// is the Room: the set of chatters and their nicks, guarded by one mutex.
// Broadcasting takes a snapshot of the room's transports under that lock
// and writes outside it: Transport.Write is safe from any goroutine and
// never blocks (it queues; a client that never reads is paused by the
// transport's high water mark, not by us), so one slow client cannot hold
// up the room. The lines of one DataReceived (a client that sent several
// at once) are broadcast together: one Write per member, not one per line
// and member, so a busy room costs a system call per member per read, not
// per line.
//
// Each service instance has its own Room. A reload that changes the chat
// service (say its motd) starts a new instance on the same socket: new
// clients join the new room and see the new motd, and Stop tells the old
// room's clients the server is going away and closes their connections
// once that is sent, which is the chat server's graceful drain (a chat
// connection has no request in flight to wait for).
package chat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

func init() { plugin.Register(Maker{}) }

// Defaults of the chat service's keys.
const (
	DefaultMaxLineLength = 1024
	DefaultNickTimeout   = time.Minute
	maxNickLength        = 32
)

// Options are the keys of a chat service entry beyond name, type and listen.
type Options struct {
	// Motd is sent to each client when it connects.
	Motd string `yaml:"motd"`
	// MaxLineLength bounds a line; a longer one closes the connection.
	MaxLineLength plugin.Size `yaml:"max_line_length"`
	// NickTimeout closes a connection that has not chosen a nick this long.
	NickTimeout time.Duration `yaml:"nick_timeout"`
	// Policies are the usual stream policies (idle_timeout, max_connections...).
	Policies plugin.Policies `yaml:"policies"`
}

// Maker is the chat plugin: type: chat in the application file, and the
// one-liner `twistd chat --port N --motd TEXT`.
type Maker struct{}

// Name implements plugin.Maker.
func (Maker) Name() string { return "chat" }

// Description implements plugin.Maker.
func (Maker) Description() string { return "a line-based chat room (Twisted's classic chat server)" }

// New implements plugin.Maker: it decodes the entry's keys strictly and
// builds the service.
func (Maker) New(e *plugin.Entry) (service.Service, error) {
	opts := Options{MaxLineLength: DefaultMaxLineLength, NickTimeout: DefaultNickTimeout}
	if err := e.Decode(&opts); err != nil {
		return nil, err
	}
	var errs []error
	if strings.ContainsAny(opts.Motd, "\r\n") {
		// A multi-line motd is fine; a bare CR would garble clients.
		opts.Motd = strings.ReplaceAll(opts.Motd, "\r", "")
	}
	if opts.MaxLineLength < 16 || opts.MaxLineLength > 1<<20 {
		errs = append(errs, e.Errorf(e.Value("max_line_length"), "max_line_length must be between 16 and 1MiB, not %s", opts.MaxLineLength))
	}
	if len(opts.Motd) > int(opts.MaxLineLength)*16 {
		errs = append(errs, e.Errorf(e.Value("motd"), "motd is longer than 16 lines of max_line_length"))
	}
	if opts.NickTimeout <= 0 {
		errs = append(errs, e.Errorf(e.Value("nick_timeout"), "nick_timeout must be positive"))
	}
	if err := plugin.Join(errs...); err != nil {
		return nil, err
	}
	return New(opts), nil
}

// Flags implements plugin.Maker: --port N or ENDPOINT (-p, default 7000),
// --motd TEXT and --max-line-length SIZE.
func (Maker) Flags(fs *pflag.FlagSet) func() (map[string]any, error) {
	port := fs.StringP("port", "p", "7000", "port number or endpoint string to listen on")
	motd := fs.String("motd", "", "message of the day, sent to each client on connecting")
	maxLine := fs.String("max-line-length", "", "longest line a client may send (default 1KiB)")
	return func() (map[string]any, error) {
		ep, err := plugin.PortEndpoint("port", *port)
		if err != nil {
			return nil, err
		}
		entry := map[string]any{"type": "chat", "listen": []string{ep}}
		if *motd != "" {
			entry["motd"] = *motd
		}
		if *maxLine != "" {
			entry["max_line_length"] = *maxLine
		}
		return entry, nil
	}
}

// Service is one chat room served on the entry's listeners.
type Service struct {
	room  *Room
	inner *service.Protocols
}

// New returns a chat service with opts (zero fields take the defaults).
func New(opts Options) *Service {
	if opts.MaxLineLength == 0 {
		opts.MaxLineLength = DefaultMaxLineLength
	}
	if opts.NickTimeout == 0 {
		opts.NickTimeout = DefaultNickTimeout
	}
	room := NewRoom(opts)
	pc := opts.Policies.Config()
	return &Service{room: room, inner: &service.Protocols{Stream: room, Policies: &pc}}
}

// Start implements service.Service.
func (s *Service) Start(ctx context.Context, env *service.Env) error {
	return s.inner.Start(ctx, env)
}

// Stop implements service.Service: it stops accepting, says goodbye to
// every client and waits, until ctx is done, for their connections to close.
func (s *Service) Stop(ctx context.Context) error {
	s.room.Close("* server going away, bye")
	return s.inner.Stop(ctx)
}

// Reopen implements service.Reopener (the traffic log of the policies).
func (s *Service) Reopen() error { return s.inner.Reopen() }

// Room is the set of connected chatters; it is the protocol.Factory of the
// service and the only state its connections share.
type Room struct {
	opts Options

	mu      sync.Mutex
	members map[*chatter]struct{}
	nicks   map[string]*chatter
	closed  bool
}

// NewRoom returns an empty room whose chatters follow opts.
func NewRoom(opts Options) *Room {
	return &Room{opts: opts, members: map[*chatter]struct{}{}, nicks: map[string]*chatter{}}
}

// BuildProtocol implements protocol.Factory.
func (r *Room) BuildProtocol(net.Addr) protocol.Protocol {
	c := &chatter{room: r}
	c.Delimiter = []byte("\n")
	c.MaxLength = int(r.opts.MaxLineLength)
	c.OnLine = c.lineReceived
	c.OnError = c.failed
	return c
}

// Nicks returns the nicks in the room, sorted.
func (r *Room) Nicks() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.nicks))
	for n := range r.nicks {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Close sends msg to everyone in the room and closes their connections once
// it is sent; chatters who arrive later are turned away.
func (r *Room) Close(msg string) {
	r.mu.Lock()
	r.closed = true
	ts := make([]protocol.Transport, 0, len(r.members))
	for c := range r.members {
		ts = append(ts, c.Transport)
	}
	r.mu.Unlock()
	line := []byte(msg + "\r\n")
	for _, t := range ts {
		t.Write(line)
		t.LoseConnection()
	}
}

func (r *Room) join(c *chatter) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.members[c] = struct{}{}
	return true
}

func (r *Room) leave(c *chatter) {
	r.mu.Lock()
	delete(r.members, c)
	if c.nick != "" && r.nicks[c.nick] == c {
		delete(r.nicks, c.nick)
	}
	r.mu.Unlock()
}

// rename gives c the nick name, unless another chatter has it.
func (r *Room) rename(c *chatter, name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if other, ok := r.nicks[name]; ok && other != c {
		return false
	}
	if c.nick != "" {
		delete(r.nicks, c.nick)
	}
	r.nicks[name] = c
	return true
}

// broadcast sends line to every chatter with a nick but from.
func (r *Room) broadcast(from *chatter, line string) {
	r.mu.Lock()
	ts := make([]protocol.Transport, 0, len(r.nicks))
	for _, c := range r.nicks {
		if c != from {
			ts = append(ts, c.Transport)
		}
	}
	r.mu.Unlock()
	b := []byte(line + "\r\n")
	for _, t := range ts {
		t.Write(b)
	}
}

// broadcastRaw sends b, whole lines, to every chatter with a nick but
// from. Transport.Write copies what it queues, so b may be reused.
func (r *Room) broadcastRaw(from *chatter, b []byte) {
	r.mu.Lock()
	ts := make([]protocol.Transport, 0, len(r.nicks))
	for _, c := range r.nicks {
		if c != from {
			ts = append(ts, c.Transport)
		}
	}
	r.mu.Unlock()
	for _, t := range ts {
		t.Write(b)
	}
}

// chatter is one client's connection. Its fields are only touched from its
// own callbacks (the reactor never runs two at once), so they need no lock.
// The room keeps its own map of nicks under its lock.
type chatter struct {
	protocol.LineProtocol
	room      *Room
	nick      string
	nickTimer protocol.Timer
	// out holds the lines for the room that this DataReceived's lines
	// made: a client that sent several lines at once has them broadcast
	// in one Write per member, not one per line and member.
	out []byte
}

// DataReceived implements protocol.Protocol: the lines in data, then one
// broadcast of what they said.
func (c *chatter) DataReceived(data []byte) {
	c.LineProtocol.DataReceived(data)
	if len(c.out) > 0 {
		c.room.broadcastRaw(c, c.out)
		c.out = c.out[:0]
		if cap(c.out) > 64<<10 {
			c.out = nil // a burst's buffer is not kept for the connection's life
		}
	}
}

// say queues line for the rest of the room, sent when DataReceived ends.
func (c *chatter) say(line string) {
	c.out = append(append(c.out, line...), '\r', '\n')
}

func (c *chatter) ConnectionMade(t protocol.Transport) {
	c.LineProtocol.ConnectionMade(t)
	if !c.room.join(c) {
		t.Write([]byte("* server going away, bye\r\n"))
		t.LoseConnection()
		return
	}
	for _, l := range strings.Split(strings.TrimRight(c.room.opts.Motd, "\n"), "\n") {
		if l != "" {
			c.send(l)
		}
	}
	c.send("What's your name?")
	// Twisted's callLater: runs serialised with this connection's
	// callbacks, and never after ConnectionLost.
	c.nickTimer = t.CallLater(c.room.opts.NickTimeout, func() {
		if c.nick == "" {
			c.send("* too slow, bye")
			c.Transport.LoseConnection()
		}
	})
}

func (c *chatter) ConnectionLost(error) {
	c.room.leave(c)
	if c.nick != "" {
		c.room.broadcast(c, "* "+c.nick+" has left")
	}
}

func (c *chatter) send(line string) { c.SendLine([]byte(line + "\r")) }

// failed is the LineProtocol's OnError: a line too long, say.
func (c *chatter) failed(err error) {
	if errors.Is(err, protocol.ErrLineTooLong) {
		c.send(fmt.Sprintf("* line too long (max %d bytes), bye", c.room.opts.MaxLineLength))
	}
	c.Transport.LoseConnection()
}

func (c *chatter) lineReceived(b []byte) error {
	line := string(bytes.TrimSuffix(b, []byte("\r")))
	switch {
	case c.nick == "":
		c.setNick(strings.TrimPrefix(line, "/nick "))
	case line == "/quit":
		c.send("Bye.")
		c.Transport.LoseConnection()
	case strings.HasPrefix(line, "/nick "):
		c.setNick(strings.TrimPrefix(line, "/nick "))
	case line == "/who":
		c.send("* here: " + strings.Join(c.room.Nicks(), " "))
	case line == "":
	default:
		c.say("<" + c.nick + "> " + line)
	}
	return nil
}

func (c *chatter) setNick(name string) {
	name = strings.TrimSpace(name)
	if !validNick(name) {
		c.send(fmt.Sprintf("* a nick is 1 to %d letters, digits, '-' or '_'", maxNickLength))
		return
	}
	old := c.nick
	if old == name {
		return
	}
	if !c.room.rename(c, name) {
		c.send("Name taken, please choose another.")
		return
	}
	c.nick = name
	if old == "" {
		c.nickTimer.Stop()
		c.send("Welcome, " + name + "!")
		c.say("* " + name + " has joined")
		return
	}
	c.send("* you are now " + name)
	c.say("* " + old + " is now known as " + name)
}

func validNick(s string) bool {
	if s == "" || len(s) > maxNickLength {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
