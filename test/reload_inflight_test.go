package test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Reloads that replace a web service under a busy load are invisible to
// clients: the old service's files stay open until its last request ends,
// so no request in flight fails (500 "file already closed") or is cut.
func TestReloadReplacingWebUnderLoadFailsNoRequest(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "public/index.html", "<h1>hello</h1>\n")
	writeFile(t, dir, "public/big.bin", strings.Repeat("x", 300<<10))
	app := writeFile(t, dir, "app.yaml", fmt.Sprintf(webApp, 0))
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	siteURL := "http://" + s.addrs()[1]

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	paths := []string{"/", "/index.html", "/big.bin", "/missing"}
	for w := 0; w < 24; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second,
				Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableKeepAlives: w%4 == 3}}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p := paths[(w+i)%len(paths)]
				resp, err := client.Get(siteURL + p)
				if err == nil {
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					want := 200
					if p == "/missing" {
						want = 404
					}
					if err == nil && resp.StatusCode != want {
						err = fmt.Errorf("GET %s: status %d", p, resp.StatusCode)
					}
				}
				if err != nil {
					err = fmt.Errorf("GET %s (keep-alive %v): %w", p, w%4 != 3, err)
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				ok.Add(1)
			}
		}(w)
	}
	for gen := 1; gen <= 30; gen++ {
		before := ok.Load()
		eventually(t, 5*time.Second, "requests under load", func() bool { return ok.Load() >= before+20 })
		if line := reloadTo(t, s, app, fmt.Sprintf(webApp, gen), gen); !strings.Contains(line, "succeeded") {
			t.Fatalf("reload %d: %s", gen, line)
		}
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed across 30 reloads; first: %v", failed.Load(), ok.Load()+failed.Load(), firstErr.Load())
	}
}
