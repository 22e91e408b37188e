// Command plain is the plain Go chat server the chat benchmark compares
// against, written the obvious way: a goroutine per connection reading
// lines, the room a map under a mutex, and a broadcast that writes the
// line to each member's connection in turn. It speaks the example chat
// server's protocol (examples/chat), so bench/chat/load drives both:
// "What's your name?", a nick, "Welcome, NICK!", then every line sent is
// broadcast to the others as "<NICK> line".
//
//	go run ./bench/chat/plain -addr 127.0.0.1:7000
package main

import (
	"bufio"
	"errors"
	"flag"
	"log"
	"net"
	"sync"
	"time"
)

type room struct {
	mu      sync.Mutex
	members map[net.Conn]string
}

func (r *room) broadcast(from net.Conn, line string) {
	b := []byte(line + "\r\n")
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.members {
		if c != from {
			_, _ = c.Write(b)
		}
	}
}

func (r *room) serve(c net.Conn) {
	defer c.Close()
	_, _ = c.Write([]byte("What's your name?\r\n"))
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 1024), 1024)
	if !sc.Scan() {
		return
	}
	nick := sc.Text()
	_, _ = c.Write([]byte("Welcome, " + nick + "!\r\n"))
	r.broadcast(c, "* "+nick+" has joined")
	r.mu.Lock()
	r.members[c] = nick
	r.mu.Unlock()
	for sc.Scan() {
		r.broadcast(c, "<"+nick+"> "+sc.Text())
	}
	r.mu.Lock()
	delete(r.members, c)
	r.mu.Unlock()
	r.broadcast(c, "* "+nick+" has left")
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "address to listen on")
	flag.Parse()
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on %s", l.Addr())
	r := &room{members: map[net.Conn]string{}}
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				log.Fatal(err)
			}
			log.Printf("accept: %v", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go r.serve(c)
	}
}
