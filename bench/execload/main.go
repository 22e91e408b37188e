// Command execload measures connections per second served by a
// program-per-connection server (twistd's exec, xinetd): each worker
// connects, sends one line, half-closes, reads the answer to EOF and
// checks it, closes, and starts over.
//
//	execload -addr 127.0.0.1:7001 -conns 16 -duration 10s
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7001", "server address")
	conns := flag.Int("conns", 16, "connections in flight")
	duration := flag.Duration("duration", 10*time.Second, "how long to run")
	flag.Parse()
	line := []byte("hello, program\n")
	var ok, failed atomic.Int64
	deadline := time.Now().Add(*duration)
	var wg sync.WaitGroup
	for i := 0; i < *conns; i++ {
		wg.Go(func() {
			buf := make([]byte, 0, 64)
			for time.Now().Before(deadline) {
				c, err := net.DialTimeout("tcp", *addr, 5*time.Second)
				if err != nil {
					failed.Add(1)
					time.Sleep(time.Millisecond)
					continue
				}
				c.SetDeadline(time.Now().Add(5 * time.Second))
				_, err = c.Write(line)
				if err == nil {
					err = c.(*net.TCPConn).CloseWrite()
				}
				var got []byte
				if err == nil {
					b := bytes.NewBuffer(buf[:0])
					_, err = io.Copy(b, c)
					got = b.Bytes()
				}
				c.Close()
				if err != nil || !bytes.Equal(got, line) {
					failed.Add(1)
					continue
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	secs := duration.Seconds()
	fmt.Printf("%.0f conn/s  (%d ok, %d failed in %s)\n", float64(ok.Load())/secs, ok.Load(), failed.Load(), *duration)
	if ok.Load() == 0 {
		os.Exit(1)
	}
}
