package endpoint

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// TLSConfig returns the TLS configuration an ssl client endpoint
// connects with — TLS 1.2 or later, the server's certificate verified for
// Host against the system's roots or, with CACertsDir, against the
// certificates of the *.pem files there only, and the client certificate
// CertKey/PrivateKey name if any — reading those files now. It returns
// nil and no error for other kinds. Runner.Dial calls it for each
// attempt; call it when loading a configuration to report a missing or
// bad file early.
func (c Client) TLSConfig() (*tls.Config, error) {
	if c.Kind != SSL {
		return nil, nil
	}
	host := strings.TrimSuffix(c.Host, ".")
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.WithZone("").String()
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if c.CACertsDir != "" {
		pool, err := loadCACerts(c.CACertsDir)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if c.CertKey != "" {
		key := c.PrivateKey
		if key == "" {
			key = c.CertKey
		}
		pair, err := tls.LoadX509KeyPair(c.CertKey, key)
		if err != nil {
			return nil, fmt.Errorf("load client key pair (certKey %s, privateKey %s): %w", c.CertKey, key, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// loadCACerts reads the certificates of every *.pem file in dir, as
// Twisted's caCertsDir does.
func loadCACerts(dir string) (*x509.CertPool, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.[pP][eE][mM]"))
	if err == nil && len(files) == 0 {
		if _, serr := os.Stat(dir); serr != nil {
			err = serr
		}
	}
	if err != nil {
		return nil, fmt.Errorf("caCertsDir %s: %w", dir, err)
	}
	pool := x509.NewCertPool()
	n := 0
	for _, f := range files {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("caCertsDir: %w", err)
		}
		if pool.AppendCertsFromPEM(pem) {
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("caCertsDir %s: no *.pem file holds a certificate", dir)
	}
	return pool, nil
}
