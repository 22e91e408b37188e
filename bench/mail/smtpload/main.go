// Command smtpload sends mail over SMTP from concurrent clients for a
// while and reports how many messages the server accepted per second.
//
//	smtpload -addr 127.0.0.1:2525 -c 16 -size 10240 -d 10s -to alice@localhost
//
// Each client sends MAIL, RCPT, DATA in a loop until the time is up, on a
// fresh connection every -per-conn messages. It prints "accepted N in D: R msg/s".
package main

import (
	"flag"
	"fmt"
	"net/smtp"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2525", "SMTP server")
	clients := flag.Int("c", 16, "concurrent clients")
	size := flag.Int("size", 10<<10, "message size in bytes")
	d := flag.Duration("d", 10*time.Second, "how long to send")
	to := flag.String("to", "alice@localhost", "recipient")
	perConn := flag.Int("per-conn", 50, "messages per connection (OpenSMTPD takes 100 at most)")
	flag.Parse()
	line := strings.Repeat("x", 98) + "\r\n"
	msg := []byte("Subject: smtpload\r\n\r\n" + strings.Repeat(line, max(1, *size/len(line))))
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(*d)
	for range *clients {
		wg.Go(func() {
			for time.Now().Before(end) {
				c, err := smtp.Dial(*addr)
				if err != nil {
					fmt.Fprintln(os.Stderr, "smtpload:", err)
					failed.Add(1)
					return
				}
				for i := 0; i < *perConn && time.Now().Before(end); i++ {
					if err := send(c, *to, msg); err != nil {
						fmt.Fprintln(os.Stderr, "smtpload:", err)
						failed.Add(1)
						_ = c.Close()
						return
					}
					sent.Add(1)
				}
				_ = c.Quit()
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	fmt.Printf("accepted %d in %s: %.0f msg/s (%d clients failed)\n", sent.Load(), took.Round(time.Millisecond),
		float64(sent.Load())/took.Seconds(), failed.Load())
}

func send(c *smtp.Client, to string, msg []byte) error {
	if err := c.Mail("load@example.com"); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	return w.Close()
}
