package test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The one-liner: two clients chat, and SIGTERM says goodbye to both and exits 0.
func TestChatOneLiner(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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

// Reloads of a changed chat service while clients keep connecting: every
// connection is accepted and greeted by one generation or the next, none
// is refused or closed without a word, and the last motd wins. A
// connection the old generation accepts after its Stop began is told the
// server is going away (service.Protocols.Stop stops accepting and drains
// in one call, so the room cannot close exactly when accepting ends); the
// goroutine reactor shows a few of those, the epoll one none.
func TestChatReloadUnderLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "public/index.html", "<h1>hi</h1>\n")
	app := writeFile(t, dir, "app.yaml", fmt.Sprintf(chatApp, "gen0"))
	s := start(t, dir, "-c", app)
	chatAddr := s.addrs()[1]

	var greeted, turnedAway, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.DialTimeout("tcp", chatAddr, 5*time.Second)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				c.SetDeadline(time.Now().Add(5 * time.Second))
				l, err := bufio.NewReader(c).ReadString('\n')
				c.Close()
				switch {
				case err != nil:
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				case strings.HasPrefix(l, "gen"):
					greeted.Add(1)
				case strings.HasPrefix(l, "* server going away"):
					turnedAway.Add(1)
				default:
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Errorf("first line %q", l))
				}
			}
		}()
	}
	for gen := 1; gen <= 5; gen++ {
		if err := os.WriteFile(app, []byte(fmt.Sprintf(chatApp, fmt.Sprintf("gen%d", gen))), 0o644); err != nil {
			t.Fatal(err)
		}
		s.signal(syscall.SIGHUP)
		s.waitForN(`reload succeeded`, gen, 15*time.Second)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d connections greeted, %d turned away by a stopping generation, %d failed", greeted.Load(), turnedAway.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Fatalf("%d connections failed during reloads; first: %v", failed.Load(), firstErr.Load())
	}
	if greeted.Load() == 0 {
		t.Fatal("no connection was greeted")
	}
	c := dialChat(t, chatAddr)
	c.expect("gen5")
}
