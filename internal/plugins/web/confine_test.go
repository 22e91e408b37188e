package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twistd-go/twistd/plugin"
)

// confinedTree builds a root with a secret beside it, symlinks pointing
// out of it (relative, absolute, through a directory) and a hidden file,
// and returns a handler serving the root.
func confinedTree(t testing.TB) *handler {
	t.Helper()
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(dir, "root")
	out := filepath.Join(dir, "outside")
	for _, d := range []string{root, out, filepath.Join(root, "sub", "deeper"), filepath.Join(root, ".git")} {
		must(os.MkdirAll(d, 0o755))
	}
	must(os.WriteFile(filepath.Join(out, "secret.txt"), []byte("TOPSECRET"), 0o644))
	must(os.WriteFile(filepath.Join(root, ".git", "config"), []byte("HIDDENSECRET"), 0o644))
	must(os.WriteFile(filepath.Join(root, "public.txt"), []byte("public"), 0o644))
	must(os.WriteFile(filepath.Join(root, "sub", "deeper", "page.html"), []byte("<p>deep</p>"), 0o644))
	must(os.Symlink("../outside/secret.txt", filepath.Join(root, "rel-out")))
	must(os.Symlink(filepath.Join(out, "secret.txt"), filepath.Join(root, "abs-out")))
	must(os.Symlink("../../outside", filepath.Join(root, "sub", "dir-out")))
	must(os.Symlink("public.txt", filepath.Join(root, "inside")))
	must(os.Symlink(".git", filepath.Join(root, "git-alias")))
	opts := DefaultOptions()
	opts.Path = plugin.DirPath(root)
	opts.IgnoreExt = []string{".txt", ".html"}
	srv, err := newServer(&opts, nil)
	must(err)
	return srv.h
}

func get(h http.Handler, target string, hdr ...string) *httptest.ResponseRecorder {
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil
	}
	r := &http.Request{Method: http.MethodGet, URL: u, RequestURI: target, Header: http.Header{},
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Host: "example.test", RemoteAddr: "192.0.2.1:1234"}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestConfinement(t *testing.T) {
	h := confinedTree(t)
	for _, tt := range []struct {
		target string
		code   int
	}{
		{"/public.txt", 200},
		{"/public", 200},
		{"/inside", 200},
		{"/sub/deeper/page", 200},
		{"/rel-out", 404},
		{"/abs-out", 404},
		{"/sub/dir-out/secret.txt", 404},
		{"/sub/dir-out/", 404},
		{"/.git/config", 404},
		{"/git-alias/config", 200}, // a link inside the root: its own name is not hidden
		{"/../outside/secret.txt", 400},
		{"/%2e%2e/outside/secret.txt", 400},
		{"/sub/%2e%2e/%2e%2e/outside/secret.txt", 400},
		{"/sub%2f..%2f..%2foutside/secret.txt", 400},
		{"/..%5c..%5coutside/secret.txt", 400},
		{"/public.txt%00.html", 400},
	} {
		w := get(h, tt.target)
		if w.Code != tt.code {
			t.Errorf("GET %s: %d, want %d", tt.target, w.Code, tt.code)
		}
		if strings.Contains(w.Body.String(), "TOPSECRET") {
			t.Errorf("GET %s leaked the secret", tt.target)
		}
	}
}

// FuzzConfinement sends arbitrary request targets to a handler over a
// tree with symlinks leaving the root: no response may carry the secret
// that lies outside it.
func FuzzConfinement(f *testing.F) {
	for _, tt := range cleanPathTests {
		f.Add(tt.path)
	}
	for _, s := range []string{"/rel-out", "/abs-out", "/sub/dir-out/secret.txt", "/%2e%2e/outside/secret.txt",
		"/sub/..%2f..%2foutside%2fsecret.txt", "/.git/config", "/git-alias/config", "/sub/dir-out/", "/?sort=size"} {
		f.Add(s)
	}
	h := confinedTree(f)
	f.Fuzz(func(t *testing.T, target string) {
		w := get(h, target)
		if w == nil {
			return
		}
		if strings.Contains(w.Body.String(), "TOPSECRET") {
			t.Fatalf("GET %q: %d leaked the secret outside the root", target, w.Code)
		}
	})
}
