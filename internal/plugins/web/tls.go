package web

import (
	"crypto/tls"
	"fmt"
	"net"
	"sync/atomic"

	"github.com/twistd-go/twistd/internal/reactor/endpoint"
)

// keyPair is an ssl endpoint's certificate, re-read on reload; new
// handshakes use the new one while open connections go on.
type keyPair struct {
	certFile, keyFile string
	current           atomic.Pointer[tls.Certificate]
}

// loadKeyPair reads an ssl endpoint's certificate and key. It runs when
// the service is made, before privileges are dropped.
func loadKeyPair(ep endpoint.Endpoint) (*keyPair, error) {
	k := &keyPair{certFile: ep.CertKey, keyFile: ep.PrivateKey}
	if k.certFile == "" {
		k.certFile = k.keyFile
	}
	return k, k.reload()
}

func (k *keyPair) reload() error {
	pair, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		return fmt.Errorf("load key pair (certKey %s, privateKey %s): %w", k.certFile, k.keyFile, err)
	}
	k.current.Store(&pair)
	return nil
}

// config is the server side of TLS: 1.2 and later, HTTP/2 offered by ALPN.
func (k *keyPair) config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return k.current.Load(), nil
		},
	}
}

// plainListener undoes the TLS wrapping of a listener the reactor gives an
// ssl endpoint, so the stream policies can wrap the raw connection and TLS
// (ours, with the certificate this service reloads) goes on top: net/http
// only speaks HTTP/2 on a *tls.Conn it receives from Accept.
type plainListener struct{ net.Listener }

func (l plainListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*tls.Conn); ok {
		return tc.NetConn(), nil // not handshaken yet: nothing is lost
	}
	return c, nil
}
