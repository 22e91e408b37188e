package chat

import (
	"strings"
	"testing"
	"time"

	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/protocol/prototest"
)

// client is one chatter on a fake transport.
type client struct {
	t  *testing.T
	p  protocol.Protocol
	tr *prototest.Transport
}

func connect(t *testing.T, r *Room) *client {
	t.Helper()
	c := &client{t: t, p: r.BuildProtocol(nil), tr: prototest.NewTransport()}
	c.p.ConnectionMade(c.tr)
	return c
}

func (c *client) say(lines ...string) {
	for _, l := range lines {
		c.p.DataReceived([]byte(l + "\n"))
	}
}

// got returns what was written to the client since the last call.
func (c *client) got() string {
	v := c.tr.Value()
	c.tr.Clear()
	return v
}

func TestChat(t *testing.T) {
	r := NewRoom(Options{Motd: "hello\nworld", MaxLineLength: 64, NickTimeout: time.Minute})
	a, b := connect(t, r), connect(t, r)
	if got, want := a.got(), "hello\r\nworld\r\nWhat's your name?\r\n"; got != want {
		t.Fatalf("greeting = %q, want %q", got, want)
	}
	a.say("alice")
	b.say("alice") // taken
	b.say("bob")
	if got := b.got(); !strings.Contains(got, "Name taken") || !strings.HasSuffix(got, "Welcome, bob!\r\n") {
		t.Fatalf("bob got %q", got)
	}
	if got := a.got(); got != "Welcome, alice!\r\n* bob has joined\r\n" {
		t.Fatalf("alice got %q", got)
	}
	// Split across reads, with a CR: still one line.
	b.p.DataReceived([]byte("hi th"))
	b.p.DataReceived([]byte("ere\r\n"))
	if got := a.got(); got != "<bob> hi there\r\n" {
		t.Fatalf("alice got %q", got)
	}
	if got := b.got(); got != "" {
		t.Fatalf("bob heard himself: %q", got)
	}
	a.say("/nick al", "/who")
	if got := b.got(); got != "* alice is now known as al\r\n" {
		t.Fatalf("bob got %q", got)
	}
	if got := a.got(); got != "* you are now al\r\n* here: al bob\r\n" {
		t.Fatalf("al got %q", got)
	}
	b.say("/quit")
	if lost, _ := b.tr.Lost(); !lost || b.got() != "Bye.\r\n" {
		t.Fatal("/quit did not say bye and close")
	}
	b.tr.Disconnect(b.p, nil)
	if got := a.got(); got != "* bob has left\r\n" {
		t.Fatalf("al got %q", got)
	}
	if got := r.Nicks(); len(got) != 1 || got[0] != "al" {
		t.Fatalf("nicks = %v", got)
	}
}

func TestLineTooLong(t *testing.T) {
	r := NewRoom(Options{MaxLineLength: 16, NickTimeout: time.Minute})
	a := connect(t, r)
	a.got()
	a.say(strings.Repeat("x", 17))
	if lost, _ := a.tr.Lost(); !lost {
		t.Fatal("a line over max_line_length did not close the connection")
	}
	if got := a.got(); !strings.Contains(got, "line too long") {
		t.Fatalf("got %q", got)
	}
}

func TestNickTimeout(t *testing.T) {
	r := NewRoom(Options{MaxLineLength: 64, NickTimeout: 10 * time.Second})
	slow, quick := connect(t, r), connect(t, r)
	quick.say("quick")
	slow.tr.Advance(9 * time.Second)
	if lost, _ := slow.tr.Lost(); lost {
		t.Fatal("closed before nick_timeout")
	}
	slow.tr.Advance(time.Second)
	quick.tr.Advance(time.Minute)
	if lost, _ := slow.tr.Lost(); !lost {
		t.Fatal("not closed at nick_timeout")
	}
	if lost, _ := quick.tr.Lost(); lost {
		t.Fatal("closed although it chose a nick")
	}
}

func TestClose(t *testing.T) {
	r := NewRoom(Options{MaxLineLength: 64, NickTimeout: time.Minute})
	a := connect(t, r)
	a.got()
	r.Close("bye all")
	if lost, _ := a.tr.Lost(); !lost || a.got() != "bye all\r\n" {
		t.Fatal("Close did not say goodbye and close")
	}
	late := connect(t, r)
	if lost, _ := late.tr.Lost(); !lost {
		t.Fatal("a closed room took a new chatter")
	}
}

func TestMakerDecode(t *testing.T) {
	doc := "services:\n  - name: room\n    type: chat\n    listen: tcp:0\n    motd: hi\n    mtod: typo\n    max_line_length: 4\n"
	entries, err := plugin.ParseEntries("app.yaml", t.TempDir(), []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Maker{}.New(entries[0])
	if err == nil || !strings.Contains(err.Error(), "app.yaml:6:5") {
		t.Fatalf("unknown key: err = %v, want one at app.yaml:6:5", err)
	}
	doc = strings.Replace(doc, "    mtod: typo\n", "", 1)
	entries, _ = plugin.ParseEntries("app.yaml", t.TempDir(), []byte(doc))
	_, err = Maker{}.New(entries[0])
	if err == nil || !strings.Contains(err.Error(), "app.yaml:6:22") || !strings.Contains(err.Error(), "max_line_length") {
		t.Fatalf("bad max_line_length: err = %v", err)
	}
}
