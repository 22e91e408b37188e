package test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The one-liner: two clients chat, and SIGTERM says goodbye to both and exits 0.
func TestChatOneLiner(t *testing.T) {
	s := start(t, t.TempDir(), "chat", "--port", "tcp:0:interface=127.0.0.1", "--motd", "hello")
	addr := s.addrs()[0]
	a, b := dialChat(t, addr), dialChat(t, addr)
	a.expect("hello")
	a.say("alice")
	a.expect("Welcome, alice!")
	b.expect("hello")
	b.say("bob")
	b.expect("Welcome, bob!")
	a.expect("* bob has joined")
	b.say("hi alice")
	a.expect("<bob> hi alice")
	a.say("/nick al")
	b.expect("* alice is now known as al")

	s.signal(syscall.SIGTERM)
	a.expect("* server going away, bye")
	b.expect("* server going away, bye")
	a.expectEOF()
	b.expectEOF()
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
}

// A line over --max-line-length closes that client only.
func TestChatMaxLineLength(t *testing.T) {
	s := start(t, t.TempDir(), "chat", "-p", "tcp:0:interface=127.0.0.1", "--max-line-length", "32")
	addr := s.addrs()[0]
	a, b := dialChat(t, addr), dialChat(t, addr)
	a.say("alice")
	a.expect("Welcome, alice!")
	b.say(strings.Repeat("x", 100))
	b.expect("* line too long (max 32 bytes), bye")
	b.expectEOF()
	a.say("/who")
	a.expect("* here: alice")
}

const chatApp = `
admin:
  listen: tcp:0:interface=127.0.0.1
services:
  - name: lobby
    type: chat
    listen: tcp:0:interface=127.0.0.1
    motd: %s
  - name: site
    type: web
    listen: tcp:0:interface=127.0.0.1
    path: ./public
`

// check names the file, line and column of a chat key it does not know.
func TestChatCheck(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(dir+"/public", 0o755)
	app := writeFile(t, dir, "app.yaml", strings.Replace(fmt.Sprintf(chatApp, "hi"), "motd:", "mtod:", 1))
	code, out := run(t, dir, "check", "-c", app)
	if code != 2 || !strings.Contains(out, "app.yaml:8:5") || !strings.Contains(out, "mtod") {
		t.Fatalf("check of a misspelt motd: exit %d, output:\n%s", code, out)
	}
	writeFile(t, dir, "app.yaml", fmt.Sprintf(chatApp, "hi"))
	if code, out := run(t, dir, "check", "-c", app); code != 0 {
		t.Fatalf("check of a good file: exit %d, output:\n%s", code, out)
	}
}

// type: chat beside type: web; a reload that changes the motd replaces the
// chat service on the same socket (new clients see the new motd), leaves
// the web service alone, and /status lists the chat service.
func TestChatApplicationFileReload(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "public/index.html", "<h1>hi</h1>\n")
	app := writeFile(t, dir, "app.yaml", fmt.Sprintf(chatApp, "first"))
	s := start(t, dir, "-c", app)
	addrs := s.addrs()
	admin, chatAddr, web := addrs[0], addrs[1], addrs[2]

	get := func(url string) string {
		t.Helper()
		c := &http.Client{Timeout: 5 * time.Second}
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Accept", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := get("http://" + web + "/"); !strings.Contains(got, "<h1>hi</h1>") {
		t.Fatalf("web served %q", got)
	}
	old := dialChat(t, chatAddr)
	old.expect("first")
	old.say("olduser")
	old.expect("Welcome, olduser!")

	if err := os.WriteFile(app, []byte(fmt.Sprintf(chatApp, "second")), 0o644); err != nil {
		t.Fatal(err)
	}
	s.signal(syscall.SIGHUP)
	s.waitFor(`reload succeeded`, 15*time.Second)
	old.expect("* server going away, bye")
	old.expectEOF()

	// The replacement takes over the same socket: any new "listening on"
	// line is the chat service's address.
	for _, a := range s.addrs()[3:] {
		if a != chatAddr {
			t.Fatalf("the chat service moved to %s from %s", a, chatAddr)
		}
	}
	fresh := dialChat(t, chatAddr)
	fresh.expect("second")
	fresh.say("newuser")
	fresh.expect("Welcome, newuser!")
	if got := get("http://" + web + "/"); !strings.Contains(got, "<h1>hi</h1>") {
		t.Fatalf("web after the reload served %q", got)
	}
	if got := get("http://" + admin + "/status"); !strings.Contains(got, `"lobby"`) || !strings.Contains(got, `"chat"`) {
		t.Fatalf("/status does not list the chat service:\n%s", got)
	}
	if got := get("http://" + admin + "/metrics"); !strings.Contains(got, `service="lobby"`) {
		t.Fatalf("/metrics has nothing of the chat service:\n%.2000s", got)
	}

	s.signal(syscall.SIGTERM)
	fresh.expect("* server going away, bye")
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}
