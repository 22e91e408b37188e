package reactor

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"

	"github.com/twistd-go/twistd/endpoint"
)

// certificate holds an ssl endpoint's key pair; Reload swaps it in place so
// new handshakes use the new one while open connections go on.
type certificate struct {
	keyFile, certFile string
	current           atomic.Pointer[tls.Certificate]
}

// loadCertificate reads an ssl endpoint's key pair (before privileges are
// dropped: keys are usually readable by root only).
func loadCertificate(ep endpoint.Endpoint) (*certificate, error) {
	c := &certificate{keyFile: ep.PrivateKey, certFile: ep.CertKey}
	if c.certFile == "" {
		c.certFile = c.keyFile
	}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload re-reads the key pair; on failure the old one stays in use.
func (c *certificate) Reload() error {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("load key pair (certKey %s, privateKey %s): %w", c.certFile, c.keyFile, err)
	}
	c.current.Store(&pair)
	return nil
}

// config returns a server TLS configuration with modern defaults (TLS
// 1.2 and later). It offers no ALPN protocol: a service names its own
// (service.Listener.WithALPN).
func (c *certificate) config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.current.Load(), nil
		},
	}
}

// CheckEndpoint loads what an endpoint needs at start without binding it
// (an ssl endpoint's key pair), so `twistd check` finds what start would.
func CheckEndpoint(ep endpoint.Endpoint) error {
	if ep.Kind == endpoint.SSL {
		_, err := loadCertificate(ep)
		return err
	}
	return nil
}
