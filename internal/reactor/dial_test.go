package reactor

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// dialer returns a Runner of the test's driver (its name ends in /epoll
// or /goroutines), for Dial.
func dialer(t *testing.T) service.Runner {
	t.Helper()
	driver := Epoll
	if strings.HasSuffix(t.Name(), "/"+Goroutines) {
		driver = Goroutines
	}
	r := New(Options{Reactor: driver, Logger: zap.NewNop(), CPUs: 1})
	t.Cleanup(func() {
		// The loops end once their connections are gone: close what a
		// failed test left open first.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		r.closeDialed(ctx)
		r.stopLoops()
	})
	return runner{r: r, log: r.log}
}

// pinger is a ClientFactory whose protocol writes "ping", reports what it
// reads, and closes once it has read "pong"; every callback lands on events.
type pinger struct {
	events chan string
	refuse bool
}

func newPinger() *pinger { return &pinger{events: make(chan string, 16)} }

func (p *pinger) BuildProtocol(net.Addr) protocol.Protocol {
	if p.refuse {
		return nil
	}
	return &pingProto{events: p.events}
}

// ClientConnectionFailed marks a cancelled attempt [canceled] and one
// that timed out [deadline], as errors.Is sees them.
func (p *pinger) ClientConnectionFailed(err error) {
	switch {
	case errors.Is(err, context.Canceled):
		p.events <- "failed: " + err.Error() + " [canceled]"
	case errors.Is(err, context.DeadlineExceeded):
		p.events <- "failed: " + err.Error() + " [deadline]"
	default:
		p.events <- "failed: " + err.Error()
	}
}
func (p *pinger) ClientConnectionLost(err error) { p.events <- fmt.Sprintf("client lost: %v", err) }

func (p *pinger) ClientConnectionMade(proto protocol.Protocol) {
	if pp, ok := proto.(*pingProto); !ok || pp.Transport == nil {
		p.events <- "client made before ConnectionMade"
		return
	}
	p.events <- "client made"
}

type pingProto struct {
	protocol.Base
	events chan string
	got    []byte
}

func (p *pingProto) ConnectionMade(t protocol.Transport) {
	p.Base.ConnectionMade(t)
	detail := ""
	if cs, ok := t.(protocol.ConnectionStater); ok {
		detail = " tls " + cs.ConnectionState().ServerName
	}
	p.events <- "made" + detail
	t.Write([]byte("ping"))
}

func (p *pingProto) DataReceived(d []byte) {
	p.got = append(p.got, d...)
	if string(p.got) == "pong" {
		p.events <- "got pong"
		p.Transport.LoseConnection()
	}
}

func (p *pingProto) ConnectionLost(err error) { p.events <- fmt.Sprintf("lost: %v", err) }

// next returns the next event, failing after 5 s.
func next(t *testing.T, events chan string) string {
	t.Helper()
	select {
	case e := <-events:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event in 5s")
		return ""
	}
}

// expect checks the next events are want, in order; "A*B" matches an
// event that starts with A and contains B.
func expect(t *testing.T, events chan string, want ...string) {
	t.Helper()
	for _, w := range want {
		got := next(t, events)
		prefix, rest, wild := strings.Cut(w, "*")
		if got != w && !(wild && strings.HasPrefix(got, prefix) && strings.Contains(got, rest)) {
			t.Fatalf("event %q, want %q", got, w)
		}
	}
}

// ponger serves ln: each connection reads "ping", answers "pong" and
// waits for the client to close; peers get the remote address of each.
func ponger(t *testing.T, ln net.Listener) (peers chan net.Addr) {
	t.Helper()
	peers = make(chan net.Addr, 4)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4)
				if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
					return
				}
				peers <- c.RemoteAddr()
				c.Write([]byte("pong"))
				io.Copy(io.Discard, c)
			}()
		}
	}()
	return peers
}

func mustClient(t *testing.T, s string) endpoint.Client {
	t.Helper()
	c, err := endpoint.ParseClient(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDialTCPAndUnix(t *testing.T) {
	bothDrivers(t, func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ponger(t, ln)
		port := ln.Addr().(*net.TCPAddr).Port
		p := newPinger()
		dialer(t).Dial(context.Background(), mustClient(t, fmt.Sprintf("tcp:127.0.0.1:%d", port)), p)
		expect(t, p.events, "made", "client made", "got pong", "lost: <nil>", "client lost: <nil>")

		sock := filepath.Join(t.TempDir(), "s.sock")
		uln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		ponger(t, uln)
		dialer(t).Dial(context.Background(), mustClient(t, "unix:"+sock), p)
		expect(t, p.events, "made", "client made", "got pong", "lost: <nil>", "client lost: <nil>")
	})
}

func TestDialBindAddress(t *testing.T) {
	bothDrivers(t, func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		peers := ponger(t, ln)
		p := newPinger()
		ep := mustClient(t, fmt.Sprintf("tcp:host=127.0.0.1:port=%d:bindAddress=127.0.0.2", ln.Addr().(*net.TCPAddr).Port))
		dialer(t).Dial(context.Background(), ep, p)
		expect(t, p.events, "made", "client made")
		select {
		case a := <-peers:
			if ip := a.(*net.TCPAddr).IP.String(); ip != "127.0.0.2" {
				t.Errorf("server saw the client at %s, want 127.0.0.2", ip)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the server saw no ping")
		}
		expect(t, p.events, "got pong", "lost: <nil>", "client lost: <nil>")
	})
}

func TestDialFailures(t *testing.T) {
	bothDrivers(t, func(t *testing.T) {
		// Refused: a port nobody listens on.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		p := newPinger()
		d := dialer(t)
		d.Dial(context.Background(), mustClient(t, fmt.Sprintf("tcp:127.0.0.1:%d", closed)), p)
		expect(t, p.events, fmt.Sprintf("failed: connect tcp:host=127.0.0.1:port=%d: dial tcp 127.0.0.1:%d: connect: connection refused", closed, closed))

		// The factory builds nothing: a failure, and the server sees a close.
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ponger(t, ln)
		refusing := newPinger()
		refusing.refuse = true
		d.Dial(context.Background(), mustClient(t, fmt.Sprintf("tcp:127.0.0.1:%d", ln.Addr().(*net.TCPAddr).Port)), refusing)
		expect(t, refusing.events, "failed: *the factory built no protocol")

		// A server that accepts but never answers the TLS handshake: the
		// timeout ends the attempt, in time; Disconnect ends another at once.
		mute, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { mute.Close() })
		go func() {
			for {
				c, err := mute.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { c.Close() })
			}
		}()
		mport := mute.Addr().(*net.TCPAddr).Port
		start := time.Now()
		d.Dial(context.Background(), mustClient(t, fmt.Sprintf("ssl:127.0.0.1:%d:timeout=0.2", mport)), p)
		expect(t, p.events, "failed: *[deadline]")
		if took := time.Since(start); took < 200*time.Millisecond || took > 2*time.Second {
			t.Errorf("the 0.2 s timeout took %v", took)
		}
		c := d.Dial(context.Background(), mustClient(t, fmt.Sprintf("ssl:127.0.0.1:%d", mport)), p)
		c.Disconnect()
		expect(t, p.events, "failed: *[canceled]")

		// A cancelled ctx gives up too.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		d.Dial(ctx, mustClient(t, fmt.Sprintf("tcp:127.0.0.1:%d", mport)), p)
		expect(t, p.events, "failed: *[canceled]")
	})
}

// Disconnect after the connection is made closes it: the protocol and
// the factory both hear of it.
func TestDialDisconnectConnected(t *testing.T) {
	bothDrivers(t, func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			c, err := ln.Accept()
			if err == nil {
				io.Copy(io.Discard, c) // never answers "pong"
				c.Close()
			}
		}()
		p := newPinger()
		c := dialer(t).Dial(context.Background(), mustClient(t, "tcp:"+strings.ReplaceAll(ln.Addr().String(), ":", ":port=")), p)
		expect(t, p.events, "made", "client made")
		c.Disconnect()
		expect(t, p.events, "lost: <nil>", "client lost: <nil>")
		c.Abort() // idempotent
	})
}

// writeCA writes a self-signed certificate for the DNS name localhost
// (only) into dir/ca.pem, and its key pair as dir/cert.pem and dir/key.pem.
func writeCA(t *testing.T, dir string) tls.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	for name, b := range map[string][]byte{"ca.pem": certPEM, "cert.pem": certPEM, "key.pem": keyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

func TestDialTLS(t *testing.T) {
	bothDrivers(t, func(t *testing.T) {
		ca := t.TempDir()
		pair := writeCA(t, ca)
		keys := t.TempDir()
		writeCA(t, keys) // a client certificate of its own
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair},
			ClientAuth: tls.RequestClientCert})
		if err != nil {
			t.Fatal(err)
		}
		peers := ponger(t, ln)
		port := ln.Addr().(*net.TCPAddr).Port
		d := dialer(t)

		p := newPinger()
		d.Dial(context.Background(), mustClient(t, fmt.Sprintf("ssl:host=localhost:port=%d:caCertsDir=%s", port, ca)), p)
		expect(t, p.events, "made tls localhost", "client made", "got pong", "lost: <nil>", "client lost: <nil>")
		<-peers

		// The certificate is for localhost, not for 127.0.0.1.
		d.Dial(context.Background(), mustClient(t, fmt.Sprintf("ssl:host=127.0.0.1:port=%d:caCertsDir=%s", port, ca)), p)
		expect(t, p.events, "failed: *doesn't contain any IP SANs")
		// The system's roots do not know our CA.
		d.Dial(context.Background(), mustClient(t, fmt.Sprintf("ssl:host=localhost:port=%d", port)), p)
		expect(t, p.events, "failed: *certificate signed by unknown authority")
		// A caCertsDir without certificates is an error naming it.
		d.Dial(context.Background(), mustClient(t, fmt.Sprintf("ssl:host=localhost:port=%d:caCertsDir=%s", port, t.TempDir())), p)
		expect(t, p.events, "failed: *no *.pem file holds a certificate")

		// A client certificate is presented.
		d.Dial(context.Background(), mustClient(t, fmt.Sprintf("ssl:host=localhost:port=%d:caCertsDir=%s:certKey=%s:privateKey=%s",
			port, ca, filepath.Join(keys, "cert.pem"), filepath.Join(keys, "key.pem"))), p)
		expect(t, p.events, "made tls localhost", "client made", "got pong")
		<-peers
		expect(t, p.events, "lost: <nil>", "client lost: <nil>")
		d.Dial(context.Background(), mustClient(t, fmt.Sprintf("ssl:host=localhost:port=%d:certKey=/nonexistent.pem", port)), p)
		expect(t, p.events, "failed: *load client key pair (certKey /nonexistent.pem")
	})
}

// A factory that is no ClientFactory still connects; its failures are
// only logged.
func TestDialPlainFactory(t *testing.T) {
	bothDrivers(t, func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ponger(t, ln)
		events := make(chan string, 8)
		f := protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &pingProto{events: events} })
		dialer(t).Dial(context.Background(), mustClient(t, "tcp:host=127.0.0.1:port="+fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)), f)
		expect(t, events, "made", "got pong", "lost: <nil>")
	})
}

// leaver dials at Start and leaves its connection open at Stop.
type leaver struct {
	ep     endpoint.Client
	events chan string
}

func (l leaver) Start(_ context.Context, env *service.Env) error {
	env.Runner.Dial(context.Background(), l.ep, &pinger{events: l.events})
	return nil
}

func (leaver) Stop(context.Context) error { return nil }

// A connection its owner forgot at Stop is closed when the reactor
// stops, and does not keep the process running.
func TestShutdownClosesForgottenDials(t *testing.T) {
	bothDrivers(t, func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		accepted := make(chan net.Conn, 1)
		go func() {
			if c, err := ln.Accept(); err == nil {
				accepted <- c
			}
		}()
		events := make(chan string, 16)
		spec := Spec{Name: "leaver", Type: "test", Pos: "test:1:1",
			Service: leaver{ep: mustClient(t, "tcp:"+strings.ReplaceAll(ln.Addr().String(), ":", ":port=")), events: events}}
		r := New(Options{Reactor: strings.TrimPrefix(t.Name(), "TestShutdownClosesForgottenDials/"),
			ShutdownTimeout: 200 * time.Millisecond, Signals: make(chan os.Signal), CPUs: 1})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx, []Spec{spec}) }()
		expect(t, events, "made", "client made")
		var c net.Conn
		select {
		case c = <-accepted:
			defer c.Close()
		case <-time.After(5 * time.Second):
			t.Fatal("no connection")
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return with a dialed connection open")
		}
		expect(t, events, "lost: *", "client lost: *")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil && !isReset(err) {
			t.Errorf("the peer read on to %v, want the connection closed", err)
		}
	})
}
