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
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// writeKeyPair writes a fresh self-signed pair named cn into dir.
func writeKeyPair(t *testing.T, dir, cn string) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	kb, _ := x509.MarshalECPrivateKey(k)
	os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// A reload that keeps a service re-reads its ssl endpoints' certificates
// in place: new handshakes get the new one, on the same socket.
func TestReloadRereadsCertificates(t *testing.T) {
	dir := t.TempDir()
	writeKeyPair(t, dir, "first")
	ep, err := endpoint.Parse("ssl:0:interface=127.0.0.1:privateKey=" + filepath.Join(dir, "key.pem") + ":certKey=" + filepath.Join(dir, "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	unit := func() []Spec {
		return []Spec{{Name: "tls", Type: "echo", Listen: []endpoint.Endpoint{ep}, Fingerprint: "same",
			Service: &service.Protocols{Stream: protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &echoProto{} })}}}
	}
	r := New(Options{Logger: zap.NewNop(), ShutdownTimeout: time.Second})
	prepared, err := r.prepare(unit())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.start(context.Background(), prepared); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = r.tree.Stop(context.Background())
		r.pool.Close()
	}()
	addr := prepared[0].addrs[0].String()
	subject := func() string {
		t.Helper()
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if got := subject(); got != "first" {
		t.Fatalf("certificate %q, want first", got)
	}
	writeKeyPair(t, dir, "second")
	if err := r.Apply(context.Background(), unit()); err != nil {
		t.Fatal(err)
	}
	if got := subject(); got != "second" {
		t.Fatalf("after reload: certificate %q, want second", got)
	}
}
