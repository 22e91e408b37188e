// Command goecho is the plain Go echo server the benchmarks compare
// against: a goroutine per connection running io.Copy, nothing more.
//
//	go run ./bench/goecho -addr 127.0.0.1:7000
package main

import (
	"errors"
	"flag"
	"io"
	"log"
	"net"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7", "address to listen on")
	flag.Parse()
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on %s", l.Addr())
	for {
		c, err := l.Accept()
		if err != nil {
			// Out of file descriptors and the like: back off and retry,
			// as net/http does, rather than stop serving everyone.
			if errors.Is(err, net.ErrClosed) {
				log.Fatal(err)
			}
			log.Printf("accept: %v", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(c, c)
		}()
	}
}
