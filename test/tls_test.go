package test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a key and certificate for 127.0.0.1 into dir.
func selfSigned(t *testing.T, dir string) (key, cert string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	key = writeFile(t, dir, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
	cert = writeFile(t, dir, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	return key, cert
}

func TestEchoOverTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	selfSigned(t, dir)
	app := writeFile(t, dir, "app.yaml", `
services:
  - type: echo
    listen: "ssl:0:privateKey=key.pem:certKey=cert.pem:interface=127.0.0.1"
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	c, err := tls.Dial("tcp", s.addrs()[0], &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("secret echo"))
	buf := make([]byte, len("secret echo"))
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "secret echo" {
		t.Fatalf("tls echo: %q %v", buf, err)
	}
}

func TestBadCertificateIsAnError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "key.pem", "not a key\n")
	writeFile(t, dir, "app.yaml", `
services:
  - type: echo
    listen: "ssl:0:privateKey=key.pem"
`)
	r := twistd(t, dir, nil, "check", "-c", "app.yaml")
	if r.code != 2 || !strings.Contains(r.stderr, "app.yaml:3:5") || !strings.Contains(r.stderr, "ssl:0:privateKey=") {
		t.Fatalf("check: exit %d, %q", r.code, r.stderr)
	}
}
