// Command load drives a SOCKS 5 proxy for bench/socks/run.sh: "bulk"
// pulls SIZE bytes through one CONNECT from an upstream of its own and
// prints MiB/s; "gets" runs CONNS clients that each CONNECT, send a small
// HTTP GET, read the answer and close, for DURATION, and prints requests/s.
//
//	load bulk PROXY [SIZE]
//	load gets PROXY CONNS DURATION
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: load bulk PROXY [SIZE] | load gets PROXY CONNS DURATION")
		os.Exit(2)
	}
	mode, proxy := os.Args[1], os.Args[2]
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	size := int64(1 << 30)
	if mode == "bulk" && len(os.Args) > 3 {
		if size, err = strconv.ParseInt(os.Args[3], 10, 64); err != nil {
			fail(err)
		}
	}
	go upstream(ln, mode, size)
	target := ln.Addr().(*net.TCPAddr)
	switch mode {
	case "bulk":
		c := connect(proxy, target)
		began := time.Now()
		n, err := io.Copy(io.Discard, c)
		d := time.Since(began)
		if err != nil || n != size {
			fail(fmt.Errorf("pulled %d of %d bytes: %v", n, size, err))
		}
		fmt.Printf("%.0f\n", float64(n)/d.Seconds()/(1<<20))
	case "gets":
		conns, _ := strconv.Atoi(os.Args[3])
		dur, err := time.ParseDuration(os.Args[4])
		if err != nil {
			fail(err)
		}
		var done, failed atomic.Int64
		var wg sync.WaitGroup
		end := time.Now().Add(dur)
		began := time.Now()
		for range conns {
			wg.Go(func() {
				for time.Now().Before(end) {
					if get(proxy, target) {
						done.Add(1)
					} else {
						failed.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if failed.Load() > 0 {
			fmt.Fprintf(os.Stderr, "load: %d requests failed\n", failed.Load())
		}
		fmt.Printf("%.0f\n", float64(done.Load())/time.Since(began).Seconds())
	default:
		fail(fmt.Errorf("unknown mode %q", mode))
	}
}

var response = []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")

func upstream(ln net.Listener, mode string, size int64) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			if mode == "bulk" {
				buf := make([]byte, 256<<10)
				for left := size; left > 0; {
					n := min(left, int64(len(buf)))
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
					left -= n
				}
				return
			}
			b := make([]byte, 512)
			if _, err := c.Read(b); err == nil {
				c.Write(response)
			}
		}()
	}
}

// connect opens a SOCKS 5 CONNECT (no authentication) to target.
func connect(proxy string, target *net.TCPAddr) net.Conn {
	c, err := dial(proxy, target)
	if err != nil {
		fail(err)
	}
	return c
}

func dial(proxy string, target *net.TCPAddr) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", proxy, 5*time.Second)
	if err != nil {
		return nil, err
	}
	ip := target.IP.To4()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	c.Write([]byte{5, 1, 0, 5, 1, 0, 1, ip[0], ip[1], ip[2], ip[3], byte(target.Port >> 8), byte(target.Port)})
	r := make([]byte, 12)
	if _, err := io.ReadFull(c, r); err != nil || r[1] != 0 || r[3] != 0 {
		c.Close()
		return nil, fmt.Errorf("socks reply % x: %v", r, err)
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

func get(proxy string, target *net.TCPAddr) bool {
	c, err := dial(proxy, target)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: bench\r\n\r\n")); err != nil {
		return false
	}
	b, err := io.ReadAll(c)
	return err == nil && len(b) == len(response)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "load:", err)
	os.Exit(1)
}
