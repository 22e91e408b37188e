// Command naive is twistd with a chat plugin written the way a newcomer
// writes it first: every line a client sends is broadcast at once, one
// Transport.Write per line and member (the example chat server, by
// contrast, gathers the lines of one read into one Write per member). It
// speaks the example's protocol ("What's your name?", a nick, "Welcome,
// NICK!", "* NICK has joined", then "<NICK> line"), so bench/chat/load
// drives it like the others; bench/chat.sh runs it as "ours-naive".
//
//	go run ./bench/chat/naive -n chat --port 7000
package main

import (
	"bytes"
	"net"
	"sync"

	"github.com/spf13/pflag"

	"github.com/twistd-go/twistd"
	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

func init() { plugin.Register(maker{}) }

func main() { twistd.Main() }

type maker struct{}

func (maker) Name() string        { return "chat" }
func (maker) Description() string { return "a chat room that writes each line to each member at once" }

func (maker) New(e *plugin.Entry) (service.Service, error) {
	var opts struct{}
	if err := e.Decode(&opts); err != nil {
		return nil, err
	}
	return &service.Protocols{Stream: &room{nicks: map[string]*chatter{}}}, nil
}

func (maker) Flags(fs *pflag.FlagSet) func() (map[string]any, error) {
	port := fs.StringP("port", "p", "7000", "port number or endpoint string to listen on")
	return func() (map[string]any, error) {
		ep, err := plugin.PortEndpoint("port", *port)
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "chat", "listen": []string{ep}}, nil
	}
}

type room struct {
	mu    sync.Mutex
	nicks map[string]*chatter
}

func (r *room) BuildProtocol(net.Addr) protocol.Protocol {
	c := &chatter{room: r}
	c.Delimiter = []byte("\n")
	c.MaxLength = 1024
	c.OnLine = c.line
	return c
}

// broadcast writes line to every member but from, one Write each.
func (r *room) broadcast(from *chatter, line []byte) {
	r.mu.Lock()
	ts := make([]protocol.Transport, 0, len(r.nicks))
	for _, c := range r.nicks {
		if c != from {
			ts = append(ts, c.Transport)
		}
	}
	r.mu.Unlock()
	for _, t := range ts {
		t.Write(line)
	}
}

type chatter struct {
	protocol.LineProtocol
	room *room
	nick string
}

func (c *chatter) ConnectionMade(t protocol.Transport) {
	c.LineProtocol.ConnectionMade(t)
	c.SendLine([]byte("What's your name?\r"))
}

func (c *chatter) ConnectionLost(error) {
	c.room.mu.Lock()
	if c.nick != "" && c.room.nicks[c.nick] == c {
		delete(c.room.nicks, c.nick)
	}
	c.room.mu.Unlock()
}

func (c *chatter) line(b []byte) error {
	b = bytes.TrimSuffix(b, []byte("\r"))
	if c.nick == "" {
		name := string(b)
		c.room.mu.Lock()
		_, taken := c.room.nicks[name]
		if !taken && name != "" {
			c.room.nicks[name] = c
		}
		c.room.mu.Unlock()
		if taken || name == "" {
			c.SendLine([]byte("Name taken, please choose another.\r"))
			return nil
		}
		c.nick = name
		c.SendLine([]byte("Welcome, " + name + "!\r"))
		c.room.broadcast(c, []byte("* "+name+" has joined\r\n"))
		return nil
	}
	c.room.broadcast(c, append(append([]byte("<"+c.nick+"> "), b...), '\r', '\n'))
	return nil
}
