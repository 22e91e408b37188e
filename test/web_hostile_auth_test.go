package test

import (
	"net/http"
	"sort"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// An unknown user costs what a wrong password does: the check for a name
// not in the file uses a hash of the cost of those in it (htpasswd -B
// makes cost 5), so timing tells no names.
func TestWebHostileBasicAuthHasNoUserOracle(t *testing.T) {
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), 5)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "htpasswd", "alice:"+string(hash)+"\n")
	writeFile(t, dir, "public/private/doc.txt", "doc")
	app := writeFile(t, dir, "app.yaml", `
services:
  - name: site
    type: web
    listen: tcp:0:interface=127.0.0.1
    path: ./public
    basic_auth: {htpasswd: ./htpasswd, paths: [/private/]}
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	base := "http://" + s.addrs()[0]
	c := webClient()
	median := func(user string) time.Duration {
		var ds []time.Duration
		for i := 0; i < 9; i++ {
			req, _ := http.NewRequest("GET", base+"/private/doc.txt", nil)
			req.SetBasicAuth(user, "wrong")
			began := time.Now()
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			ds = append(ds, time.Since(began))
			wantStatus(t, user, resp, 401)
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[len(ds)/2]
	}
	known, unknown := median("alice"), median("mallory")
	t.Logf("wrong password %s, unknown user %s", known, unknown)
	if unknown > 3*known+5*time.Millisecond || known > 3*unknown+5*time.Millisecond {
		t.Fatalf("an unknown user takes %s, a wrong password %s: timing tells names", unknown, known)
	}
}
