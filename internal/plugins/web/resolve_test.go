package web

import (
	"path"
	"path/filepath"
	"strings"
	"testing"
)

var cleanPathTests = []struct {
	name, path, raw string
	want            string
	dirSlash        bool
	bad             bool
}{
	{name: "root", path: "/", want: "."},
	{name: "file", path: "/a.txt", want: "a.txt"},
	{name: "nested", path: "/a/b/c.html", want: "a/b/c.html"},
	{name: "dir slash", path: "/a/b/", want: "a/b", dirSlash: true},
	{name: "double slash", path: "//a//b", want: "a/b"},
	{name: "dot segment", path: "/a/./b", want: "a/b"},
	{name: "trailing dot", path: "/a/.", want: "a", dirSlash: true},
	{name: "only dots", path: "/./", want: ".", dirSlash: true},
	{name: "dots in a name", path: "/a..b/..c/d..", want: "a..b/..c/d.."},
	{name: "hidden stays", path: "/.git/config", want: ".git/config"},
	{name: "dotdot", path: "/../etc/passwd", bad: true},
	{name: "inner dotdot", path: "/a/../b", bad: true},
	{name: "trailing dotdot", path: "/a/..", bad: true},
	{name: "decoded %2e%2e", path: "/%2e%2e/x", raw: "", want: "%2e%2e/x"},
	{name: "encoded slash", path: "/a/b", raw: "/a%2Fb", bad: true},
	{name: "encoded backslash", path: `/a\b`, raw: "/a%5cb", bad: true},
	{name: "backslash", path: `/..\..\etc`, bad: true},
	{name: "nul", path: "/a\x00.txt", bad: true},
	{name: "control", path: "/a\nb", bad: true},
	{name: "del", path: "/a\x7fb", bad: true},
	{name: "relative", path: "a.txt", bad: true},
	{name: "empty", path: "", bad: true},
	{name: "utf-8", path: "/héllo wörld.txt", want: "héllo wörld.txt"},
}

func TestCleanPath(t *testing.T) {
	for _, tt := range cleanPathTests {
		t.Run(tt.name, func(t *testing.T) {
			got, dirSlash, err := cleanPath(tt.path, tt.raw)
			if tt.bad {
				if err == nil {
					t.Fatalf("cleanPath(%q, %q) = %q, want an error", tt.path, tt.raw, got)
				}
				return
			}
			if err != nil || got != tt.want || dirSlash != tt.dirSlash {
				t.Fatalf("cleanPath(%q, %q) = %q, %v, %v; want %q, %v", tt.path, tt.raw, got, dirSlash, err, tt.want, tt.dirSlash)
			}
		})
	}
}

func TestCleanPathDoesNotAllocateWhenClean(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() { _, _, _ = cleanPath("/static/app.js", "") })
	if allocs != 0 {
		t.Fatalf("cleanPath allocates %v times for a clean path", allocs)
	}
}

func TestHidden(t *testing.T) {
	for _, tt := range []struct {
		name     string
		patterns []string
		want     bool
	}{
		{name: ".git/config", patterns: []string{".*"}, want: true},
		{name: "a/.git/config", patterns: []string{".*"}, want: true},
		{name: "a/b/.env", patterns: []string{".*"}, want: true},
		{name: "a/b.txt", patterns: []string{".*"}, want: false},
		{name: ".", patterns: []string{".*"}, want: false},
		{name: "secret/x", patterns: []string{"secret"}, want: true},
		{name: "backup.bak", patterns: []string{"*.bak"}, want: true},
		{name: "a/b", patterns: nil, want: false},
	} {
		if got := hidden(tt.name, tt.patterns); got != tt.want {
			t.Errorf("hidden(%q, %q) = %v, want %v", tt.name, tt.patterns, got, tt.want)
		}
	}
}

// FuzzCleanPath checks that whatever a client sends, the name handed to
// the root is local: relative, clean, without "..", NUL or backslash.
func FuzzCleanPath(f *testing.F) {
	for _, tt := range cleanPathTests {
		f.Add(tt.path, tt.raw)
	}
	f.Fuzz(func(t *testing.T, p, raw string) {
		name, _, err := cleanPath(p, raw)
		if err != nil {
			return
		}
		if name != "." && !filepath.IsLocal(name) {
			t.Fatalf("cleanPath(%q) = %q: not local", p, name)
		}
		if path.Clean(name) != name || strings.HasPrefix(name, "/") {
			t.Fatalf("cleanPath(%q) = %q: not clean", p, name)
		}
		if strings.ContainsAny(name, "\\\x00") {
			t.Fatalf("cleanPath(%q) = %q: backslash or NUL", p, name)
		}
		for _, seg := range strings.Split(name, "/") {
			if seg == ".." {
				t.Fatalf("cleanPath(%q) = %q: has ..", p, name)
			}
		}
	})
}
