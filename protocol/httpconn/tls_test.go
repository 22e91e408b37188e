package httpconn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twistd-go/twistd/protocol"
)

// tlsNetTransport is a netTransport over a *tls.Conn, offering its state
// as the reactor's transport of an ssl: endpoint does.
type tlsNetTransport struct{ *netTransport }

func (t tlsNetTransport) ConnectionState() tls.ConnectionState {
	return t.nc.(*tls.Conn).ConnectionState()
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
}

// startTLS serves srv through a Server on a loopback TLS listener
// offering h2 and http/1.1.
func startTLS(t *testing.T, srv *http.Server) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}, NextProtos: []string{"h2", "http/1.1"}}
	s := New(srv)
	serveNetWith(t, tls.NewListener(ln, cfg), s.Factory(), func(n *netTransport) protocol.Transport { return tlsNetTransport{n} })
	t.Cleanup(func() {
		ln.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s, ln.Addr().String()
}

// tlsClient offers protos by ALPN (h2 among them: HTTP/2 is attempted).
func tlsClient(protos ...string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		ForceAttemptHTTP2: slices.Contains(protos, "h2"),
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, NextProtos: protos},
	}}
}

// Over TLS, HTTP/1.1 and HTTP/2 (by ALPN) both reach the handler, which
// sees r.TLS and the peer's address either way.
func TestTLSServesHTTP1AndHTTP2(t *testing.T) {
	_, addr := startTLS(t, &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		alpn := "none"
		if r.TLS != nil {
			alpn = r.TLS.NegotiatedProtocol
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s tls=%s peer=%v body=%d", r.Proto, alpn, strings.HasPrefix(r.RemoteAddr, "127.0.0.1:"), len(body))
	})})
	for _, tc := range []struct {
		protos []string
		want   string
	}{
		{[]string{"h2", "http/1.1"}, "HTTP/2.0 tls=h2 peer=true"},
		{[]string{"http/1.1"}, "HTTP/1.1 tls=http/1.1 peer=true"},
	} {
		c := tlsClient(tc.protos...)
		for i := range 3 { // a connection reused, and a body bigger than the buffers
			body := strings.Repeat("x", i*300<<10)
			resp, err := c.Post("https://"+addr+"/", "text/plain", strings.NewReader(body))
			if err != nil {
				t.Fatalf("%v: %v", tc.protos, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := fmt.Sprintf("%s body=%d", tc.want, len(body)); string(b) != want {
				t.Errorf("%v: %q, want %q", tc.protos, b, want)
			}
		}
		c.CloseIdleConnections()
	}
}

// Shutdown lets an HTTP/2 request in flight finish (GOAWAY), then the
// connection closes.
func TestTLSShutdownDrainsHTTP2(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	s, addr := startTLS(t, &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "done")
	})})
	got := make(chan string, 1)
	go func() {
		resp, err := tlsClient("h2").Get("https://" + addr + "/")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- resp.Proto + " " + string(b)
	}()
	<-started
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stopped <- s.Shutdown(ctx)
	}()
	eventually(t, "Shutdown to begin", s.stopping.Load)
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if g := <-got; g != "HTTP/2.0 done" {
		t.Fatalf("the request in flight got %q", g)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}
