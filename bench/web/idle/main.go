// Command idle opens N keep-alive HTTP connections to an address, sends
// one request on each, reads the answer and then holds them all open
// (idle) until it is interrupted: the load behind "10,000 idle keep-alive
// connections" in bench/web/run.sh.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "server address")
	path := flag.String("path", "/", "path to request on each connection")
	n := flag.Int("n", 10000, "connections")
	flag.Parse()
	conns := make([]net.Conn, 0, *n)
	req := "GET " + *path + " HTTP/1.1\r\nHost: bench\r\n\r\n"
	for i := 0; i < *n; i++ {
		c, err := net.DialTimeout("tcp", *addr, 5*time.Second)
		if err != nil {
			fmt.Fprintf(os.Stderr, "idle: connection %d: %v\n", i, err)
			os.Exit(1)
		}
		if _, err := io.WriteString(c, req); err != nil {
			fmt.Fprintf(os.Stderr, "idle: connection %d: %v\n", i, err)
			os.Exit(1)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			fmt.Fprintf(os.Stderr, "idle: connection %d: %v\n", i, err)
			os.Exit(1)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		conns = append(conns, c)
	}
	fmt.Printf("idle: %d connections open\n", len(conns))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	for _, c := range conns {
		c.Close()
	}
}
