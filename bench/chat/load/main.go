// Command load is the chat benchmark's load tool: -clients connections
// join a chat server (examples/chat's protocol: a nick, then lines), the
// first -senders of them send lines, and every client counts the lines
// it receives. It prints the messages delivered per second (one line
// sent to a room of N is N-1 deliveries) and, given the server's -pid,
// the server's CPU time per delivery and its write system calls (write,
// writev, sendfile: syscw in /proc/PID/io) per delivery.
//
//	go run ./bench/chat/load -addr 127.0.0.1:7000 -pid 1234 -duration 5s
//
// Each sender keeps at most -window of its lines in flight — sent, not
// yet delivered to every other client — so a server that queues is
// measured at the rate it delivers, not the rate it accepts, and one that
// blocks on a slow client is not flooded. After the run the tool waits
// for every line sent to arrive everywhere: a lost or garbled line makes
// it exit 1.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type result struct {
	Clients         int     `json:"clients"`
	Senders         int     `json:"senders"`
	Seconds         float64 `json:"seconds"`
	Sent            int64   `json:"sent"`
	Delivered       int64   `json:"delivered"`
	DeliveredPerSec float64 `json:"delivered_per_sec"`
	SentPerSec      float64 `json:"sent_per_sec"`
	CPUSeconds      float64 `json:"cpu_seconds"`
	CPUNsPerMsg     float64 `json:"cpu_ns_per_delivery"`
	WritesPerMsg    float64 `json:"writes_per_delivery"`
	Lost            int64   `json:"lost"`
	Errors          int64   `json:"errors"`
}

type client struct {
	id    int
	nick  string
	conn  net.Conn
	rd    *bufio.Reader
	sends bool
}

var (
	addr     = flag.String("addr", "127.0.0.1:7000", "the chat server")
	clients  = flag.Int("clients", 1000, "connections in the room")
	senders  = flag.Int("senders", 4, "how many of them send")
	size     = flag.Int("size", 64, "bytes per line sent, newline included")
	window   = flag.Int("window", 32, "lines each sender keeps in flight")
	duration = flag.Duration("duration", 5*time.Second, "how long to measure")
	warmup   = flag.Duration("warmup", time.Second, "how long to send before measuring")
	pid      = flag.Int("pid", 0, "the server's process id, for its CPU time")
	asJSON   = flag.Bool("json", false, "print a JSON line after the summary")
)

var (
	delivered []atomic.Int64 // per sender
	sent      []atomic.Int64 // per sender
	joins     atomic.Int64
	total     atomic.Int64
	errCount  atomic.Int64
	closing   atomic.Bool // the tool is closing the connections
	firstErr  atomic.Value
)

func fail(err error) {
	if errCount.Add(1) == 1 {
		firstErr.Store(err)
	}
}

func main() {
	flag.Parse()
	if *senders < 1 || *senders > *clients-1 || *size < 16 || *window < 1 {
		fmt.Fprintln(os.Stderr, "load: need 1 <= senders < clients, size >= 16, window >= 1")
		os.Exit(2)
	}
	delivered = make([]atomic.Int64, *senders)
	sent = make([]atomic.Int64, *senders)

	// Join: a few at a time, each reading up to its welcome.
	cs := make([]*client, *clients)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range cs {
		c := &client{id: i, nick: fmt.Sprintf("c%d", i), sends: i < *senders}
		if c.sends {
			c.nick = fmt.Sprintf("s%d", i)
		}
		cs[i] = c
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := c.join(); err != nil {
				fail(fmt.Errorf("client %d: %w", c.id, err))
			}
		}()
	}
	wg.Wait()
	if errCount.Load() > 0 {
		fmt.Fprintf(os.Stderr, "load: joining: %v (%d errors)\n", firstErr.Load(), errCount.Load())
		os.Exit(1)
	}
	for _, c := range cs {
		go c.read()
	}
	// The joins' own broadcasts (N² lines) are drained before anything
	// is measured: wait until none has arrived for a while.
	quiet(300*time.Millisecond, 60*time.Second, joins.Load)

	stop := make(chan struct{})
	var swg sync.WaitGroup
	for _, c := range cs[:*senders] {
		swg.Add(1)
		go func() { defer swg.Done(); c.send(stop) }()
	}
	time.Sleep(*warmup)
	w0 := writeCalls()
	d0, cpu0, t0 := total.Load(), cpuSeconds(), time.Now()
	var s0 int64
	for i := range sent {
		s0 += sent[i].Load()
	}
	time.Sleep(*duration)
	d1, cpu1, t1 := total.Load(), cpuSeconds(), time.Now()
	w1 := writeCalls()
	var s1 int64
	for i := range sent {
		s1 += sent[i].Load()
	}
	close(stop)
	swg.Wait()

	// Everything sent arrives everywhere, or the run failed.
	want := func() (missing int64) {
		for i := range sent {
			missing += sent[i].Load()*int64(*clients-1) - delivered[i].Load()
		}
		return missing
	}
	deadline := time.Now().Add(15 * time.Second)
	for want() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	closing.Store(true)
	for _, c := range cs {
		c.conn.Close()
	}

	secs := t1.Sub(t0).Seconds()
	r := result{Clients: *clients, Senders: *senders, Seconds: secs, Sent: s1 - s0, Delivered: d1 - d0,
		Lost: want(), Errors: errCount.Load()}
	r.DeliveredPerSec = float64(r.Delivered) / secs
	r.SentPerSec = float64(r.Sent) / secs
	if *pid > 0 && cpu0 >= 0 && cpu1 >= 0 {
		r.CPUSeconds = cpu1 - cpu0
		if r.Delivered > 0 {
			r.CPUNsPerMsg = r.CPUSeconds * 1e9 / float64(r.Delivered)
		}
	}
	if w0 >= 0 && w1 >= 0 && r.Delivered > 0 {
		r.WritesPerMsg = float64(w1-w0) / float64(r.Delivered)
	}
	fmt.Printf("%d clients, %d senders: %.0f deliveries/s (%.0f lines/s sent), server CPU %.2f s = %.0f ns, %.3f writes per delivery",
		r.Clients, r.Senders, r.DeliveredPerSec, r.SentPerSec, r.CPUSeconds, r.CPUNsPerMsg, r.WritesPerMsg)
	if r.Lost != 0 || r.Errors != 0 {
		fmt.Printf("; %d lines missing, %d errors", r.Lost, r.Errors)
	}
	fmt.Println()
	if r.Errors > 0 {
		fmt.Fprintf(os.Stderr, "load: first error: %v\n", firstErr.Load())
	}
	if *asJSON {
		b, _ := json.Marshal(r)
		fmt.Println(string(b))
	}
	if r.Lost != 0 || r.Errors != 0 || r.Delivered == 0 {
		os.Exit(1)
	}
}

// join connects, reads the prompt, gives the nick and reads the welcome.
func (c *client) join() error {
	conn, err := net.DialTimeout("tcp", *addr, 10*time.Second)
	if err != nil {
		return err
	}
	c.conn = conn
	c.rd = bufio.NewReaderSize(conn, 64<<10)
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	defer conn.SetDeadline(time.Time{})
	if err := c.until("What's your name?"); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(conn, "%s\n", c.nick); err != nil {
		return err
	}
	return c.until("Welcome, " + c.nick + "!")
}

// until reads lines up to one that is want; joins of others on the way
// are counted.
func (c *client) until(want string) error {
	for {
		line, err := c.rd.ReadString('\n')
		if err != nil {
			return fmt.Errorf("waiting for %q: %w", want, err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == want {
			return nil
		}
		if strings.HasSuffix(line, " has joined") {
			joins.Add(1)
		}
	}
}

// read counts every line that arrives until the connection closes.
func (c *client) read() {
	for {
		line, err := c.rd.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				fail(fmt.Errorf("client %d: a line longer than 64 KiB", c.id))
				continue
			}
			if !closing.Load() {
				fail(fmt.Errorf("client %d: %w", c.id, err))
			}
			return
		}
		switch {
		case bytes.HasPrefix(line, []byte("<s")):
			end := bytes.IndexByte(line, '>')
			s, err := strconv.Atoi(string(line[2:max(end, 2)]))
			if end < 0 || err != nil || s < 0 || s >= len(delivered) || s == c.id {
				fail(fmt.Errorf("client %d: a garbled line %q", c.id, line))
				continue
			}
			delivered[s].Add(1)
			total.Add(1)
		case bytes.HasSuffix(line, []byte(" has joined\r\n")):
			joins.Add(1)
		}
	}
}

// send sends lines, at most -window of them in flight, until stop.
func (c *client) send(stop <-chan struct{}) {
	s := c.id
	others := int64(*clients - 1)
	line := make([]byte, *size)
	for i := range line {
		line[i] = 'x'
	}
	line[len(line)-1] = '\n'
	for seq := 0; ; seq++ {
		for sent[s].Load()*others-delivered[s].Load() >= int64(*window)*others {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
		select {
		case <-stop:
			return
		default:
		}
		copy(line, strconv.Itoa(seq)+" ")
		sent[s].Add(1)
		if _, err := c.conn.Write(line); err != nil {
			sent[s].Add(-1)
			fail(fmt.Errorf("sender %d: %w", s, err))
			return
		}
	}
}

// quiet waits until count has not moved for d, or for at most limit.
func quiet(d, limit time.Duration, count func() int64) {
	end := time.Now().Add(limit)
	last, since := count(), time.Now()
	for time.Now().Before(end) {
		time.Sleep(20 * time.Millisecond)
		if n := count(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= d {
			return
		}
	}
}

// cpuSeconds is the server's user and system CPU time so far, or -1.
func cpuSeconds() float64 {
	if *pid <= 0 {
		return -1
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", *pid))
	if err != nil {
		return -1
	}
	// The fields after the command (which may hold spaces) start at ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return -1
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

// writeCalls is the server's write system calls so far (syscw in
// /proc/PID/io: write, writev, sendfile), or -1.
func writeCalls() int64 {
	if *pid <= 0 {
		return -1
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", *pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "syscw: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}
