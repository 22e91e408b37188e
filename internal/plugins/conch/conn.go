package conch

import (
	"net"
	"strconv"
	"sync"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"
)

// conn is one logged-in SSH connection.
type conn struct {
	s    *server
	sc   *ssh.ServerConn
	acct *account
	log  *zap.Logger

	mu       sync.Mutex
	sessions int
	fwd      *remoteForwards
	wg       sync.WaitGroup
	gone     chan struct{} // closed when the connection has ended
}

func (c *conn) forwardingAllowed() bool {
	_, no := c.sc.Permissions.Extensions[extNoForwarding]
	return c.s.opts.Forwarding && !no
}

// serve runs until the connection ends, then waits for its sessions.
func (c *conn) serve(chans <-chan ssh.NewChannel, reqs <-chan *ssh.Request) {
	c.wg.Go(func() { c.globalRequests(reqs) })
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			c.mu.Lock()
			full := c.sessions >= c.s.opts.MaxSessions
			if !full {
				c.sessions++
			}
			c.mu.Unlock()
			if full {
				c.s.chans.WithLabelValues(c.s.name, "refused").Inc()
				_ = nc.Reject(ssh.ResourceShortage, "too many sessions on this connection")
				continue
			}
			ch, creqs, err := nc.Accept()
			if err != nil {
				c.mu.Lock()
				c.sessions--
				c.mu.Unlock()
				continue
			}
			c.s.stats.Requests.Add(1)
			c.wg.Go(func() {
				defer func() {
					c.mu.Lock()
					c.sessions--
					c.mu.Unlock()
				}()
				newSession(c, ch).serve(creqs)
			})
		case "direct-tcpip":
			if !c.forwardingAllowed() {
				c.log.Info("forwarding refused: disabled", zap.String("target", directTarget(nc.ExtraData())))
				c.s.chans.WithLabelValues(c.s.name, "refused").Inc()
				_ = nc.Reject(ssh.Prohibited, "port forwarding is disabled")
				continue
			}
			c.wg.Go(func() { c.directTCPIP(nc) })
		default:
			c.s.chans.WithLabelValues(c.s.name, "refused").Inc()
			_ = nc.Reject(ssh.UnknownChannelType, "channel type not supported: "+nc.ChannelType())
		}
	}
	close(c.gone)
	c.closeForwards()
	c.wg.Wait()
}

// globalRequests answers tcpip-forward when forwarding is on, and
// refuses the rest (keepalives included, which clients expect refused).
func (c *conn) globalRequests(reqs <-chan *ssh.Request) {
	for r := range reqs {
		switch r.Type {
		case "tcpip-forward":
			if !c.forwardingAllowed() {
				var m struct {
					Addr string
					Port uint32
				}
				_ = ssh.Unmarshal(r.Payload, &m)
				c.log.Info("remote forwarding refused: disabled", zap.String("listen", net.JoinHostPort(m.Addr, strconv.FormatUint(uint64(m.Port), 10))))
				_ = r.Reply(false, nil)
				continue
			}
			c.tcpipForward(r)
		case "cancel-tcpip-forward":
			if !c.forwardingAllowed() {
				_ = r.Reply(false, nil)
				continue
			}
			c.cancelTCPIPForward(r)
		default:
			if r.WantReply {
				_ = r.Reply(false, nil)
			}
		}
	}
}

// directTarget is the host:port a direct-tcpip channel asks for, for the log.
func directTarget(extra []byte) string {
	var m struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if ssh.Unmarshal(extra, &m) != nil {
		return "?"
	}
	return net.JoinHostPort(m.Host, strconv.FormatUint(uint64(m.Port), 10))
}
