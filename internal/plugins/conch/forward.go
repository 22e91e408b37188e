package conch

import (
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"
)

// Forwarding bounds.
const (
	dialTimeout = 10 * time.Second
	// maxRemoteForwards bounds the tcpip-forward listeners of a connection.
	maxRemoteForwards = 16
)

// remoteForwards are a connection's tcpip-forward listeners, by the
// address the client asked for.
type remoteForwards struct {
	mu sync.Mutex
	ls map[string]net.Listener
}

// directTCPIP serves ssh -L: a connection we make for the client.
func (c *conn) directTCPIP(nc ssh.NewChannel) {
	var m struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if ssh.Unmarshal(nc.ExtraData(), &m) != nil || m.Port > 65535 {
		_ = nc.Reject(ssh.ConnectionFailed, "bad direct-tcpip request")
		return
	}
	target := net.JoinHostPort(m.Host, strconv.Itoa(int(m.Port)))
	out, err := net.DialTimeout("tcp", target, dialTimeout)
	if err != nil {
		c.log.Info("forwarding failed", zap.String("target", target), zap.Error(err))
		_ = nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		_ = out.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	c.s.chans.WithLabelValues(c.s.name, "direct-tcpip").Inc()
	c.log.Info("forwarding", zap.String("target", target))
	relay(ch, out, c.gone)
}

// relay copies both ways, passing each side's EOF on, until both end.
// The TCP side is closed when the SSH connection ends (gone).
func relay(ch ssh.Channel, tc net.Conn, gone <-chan struct{}) {
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-gone:
			_ = tc.Close()
		case <-finished:
		}
	}()
	var wg sync.WaitGroup
	wg.Go(func() {
		_, _ = io.Copy(tc, ch)
		if t, ok := tc.(*net.TCPConn); ok {
			_ = t.CloseWrite()
		}
	})
	wg.Go(func() {
		_, _ = io.Copy(ch, tc)
		_ = ch.CloseWrite()
	})
	wg.Wait()
	_ = ch.Close()
	_ = tc.Close()
}

// tcpipForward serves ssh -R: we listen, on loopback only (sshd's
// GatewayPorts no), and hand each connection to the client.
func (c *conn) tcpipForward(r *ssh.Request) {
	var m struct {
		Addr string
		Port uint32
	}
	if ssh.Unmarshal(r.Payload, &m) != nil || m.Port > 65535 {
		_ = r.Reply(false, nil)
		return
	}
	c.mu.Lock()
	if c.fwd == nil {
		c.fwd = &remoteForwards{ls: map[string]net.Listener{}}
	}
	fw := c.fwd
	c.mu.Unlock()
	fw.mu.Lock()
	defer fw.mu.Unlock()
	key := net.JoinHostPort(m.Addr, strconv.Itoa(int(m.Port)))
	if len(fw.ls) >= maxRemoteForwards || fw.ls[key] != nil {
		_ = r.Reply(false, nil)
		return
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(m.Port))))
	if err != nil {
		c.log.Info("remote forwarding failed", zap.String("listen", key), zap.Error(err))
		_ = r.Reply(false, nil)
		return
	}
	port := uint32(l.Addr().(*net.TCPAddr).Port)
	fw.ls[key] = l
	var reply []byte
	if m.Port == 0 {
		reply = ssh.Marshal(struct{ Port uint32 }{port})
	}
	_ = r.Reply(true, reply)
	c.log.Info("remote forwarding", zap.String("listen", l.Addr().String()))
	c.wg.Go(func() {
		for {
			tc, err := l.Accept()
			if err != nil {
				return
			}
			oh, op := splitAddr(tc.RemoteAddr())
			opn, _ := strconv.Atoi(op)
			payload := ssh.Marshal(struct {
				Addr     string
				Port     uint32
				OrigAddr string
				OrigPort uint32
			}{m.Addr, port, oh, uint32(opn)})
			c.wg.Go(func() {
				ch, reqs, err := c.sc.OpenChannel("forwarded-tcpip", payload)
				if err != nil {
					_ = tc.Close()
					return
				}
				go ssh.DiscardRequests(reqs)
				c.s.chans.WithLabelValues(c.s.name, "forwarded-tcpip").Inc()
				relay(ch, tc, c.gone)
			})
		}
	})
}

func (c *conn) cancelTCPIPForward(r *ssh.Request) {
	var m struct {
		Addr string
		Port uint32
	}
	c.mu.Lock()
	fw := c.fwd
	c.mu.Unlock()
	if ssh.Unmarshal(r.Payload, &m) != nil || fw == nil {
		_ = r.Reply(false, nil)
		return
	}
	key := net.JoinHostPort(m.Addr, strconv.Itoa(int(m.Port)))
	fw.mu.Lock()
	l := fw.ls[key]
	delete(fw.ls, key)
	fw.mu.Unlock()
	if l == nil {
		_ = r.Reply(false, nil)
		return
	}
	_ = l.Close()
	_ = r.Reply(true, nil)
}

// closeForwards closes the connection's listeners when it ends.
func (c *conn) closeForwards() {
	c.mu.Lock()
	fw := c.fwd
	c.mu.Unlock()
	if fw == nil {
		return
	}
	fw.mu.Lock()
	for k, l := range fw.ls {
		_ = l.Close()
		delete(fw.ls, k)
	}
	fw.mu.Unlock()
}
