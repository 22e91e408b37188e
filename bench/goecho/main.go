// Command goecho is the plain Go echo server the benchmarks compare
// against: a goroutine per connection running io.Copy, nothing more.
//
//	go run ./bench/goecho -addr 127.0.0.1:7000
//
// Given the connection itself as both ends, io.Copy splices through a
// kernel pipe, and each goroutine waiting to read holds that pipe: two
// more file descriptors per idle connection, so 10,000 of them need
// 30,000 descriptors. By default goecho hides the splice path and io.Copy
// reads and writes through its 32 KiB buffer, as it does for any other
// reader; -splice keeps it.
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
	splice := flag.Bool("splice", false, "let io.Copy splice (two more file descriptors per connection)")
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
			if *splice {
				_, _ = io.Copy(c, c)
			} else {
				_, _ = io.Copy(struct{ io.Writer }{c}, struct{ io.Reader }{c})
			}
		}()
	}
}
