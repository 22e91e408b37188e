package test

import (
	"strings"
	"testing"
)

// `check` reports every bad access rule at its place, all at once.
func TestAccessCheckBadRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string
		want []string // substrings of stderr, in order
	}{
		{
			name: "bad CIDR in allow",
			file: "services:\n  - type: echo\n    listen: tcp:0\n    allow: [10.0.0.0/8, 10.0.0.0/33]\n",
			want: []string{`app.yaml:4:25:`, `service "echo"`, `allow: "10.0.0.0/33" is not a CIDR prefix`},
		},
		{
			name: "not an address in deny",
			file: "services:\n  - type: echo\n    listen: tcp:0\n    deny:\n      - example.com\n",
			want: []string{`app.yaml:5:9:`, `deny: "example.com"`},
		},
		{
			name: "host bits set",
			file: "services:\n  - type: echo\n    listen: tcp:0\n    deny: [192.168.1.10/24]\n",
			want: []string{`app.yaml:4:12:`, `192.168.1.0/24`},
		},
		{
			name: "a mapping instead of a list",
			file: "services:\n  - type: echo\n    listen: tcp:0\n    allow: {a: 1}\n",
			want: []string{`app.yaml:4:12:`, `allow: expected`},
		},
		{
			name: "bad rate",
			file: "services:\n  - type: echo\n    listen: tcp:0\n    policies: {max_connection_rate_per_peer: fast}\n",
			want: []string{`app.yaml:4:46:`, `bad rate "fast"`},
		},
		{
			name: "bad trusted",
			file: "services:\n  - type: echo\n    listen: haproxy:tcp:0:trusted=10.0.0.300\n",
			want: []string{`app.yaml:3:13:`, `trusted`},
		},
		{
			name: "trusted without haproxy",
			file: "services:\n  - type: echo\n    listen: tcp:0:trusted=10.0.0.1\n",
			want: []string{`app.yaml:3:13:`, `trusted`},
		},
		{
			name: "every mistake at once",
			file: "services:\n  - type: echo\n    listen: tcp:0\n    allow: [nope]\n    deny: [also-nope]\n",
			want: []string{`app.yaml:4:13:`, `app.yaml:5:12:`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "app.yaml", tt.file)
			r := twistd(t, dir, nil, "check", "-c", "app.yaml")
			if r.code != 2 {
				t.Fatalf("exit %d, want 2; stdout %q stderr %q", r.code, r.stdout, r.stderr)
			}
			rest := r.stderr
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("stderr lacks %q (in order):\n%s", w, r.stderr)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

// A file with good rules passes check.
func TestAccessCheckGoodRules(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "app.yaml", `
services:
  - type: echo
    listen: [tcp:0, 'haproxy:tcp:0:trusted=10.0.0.0/8,\:\:1']
    allow: [10.0.0.0/8, 2001:db8::/32, 192.0.2.1, '::ffff:198.51.100.0/120']
    deny: 10.1.0.0/16
    policies: {max_connection_rate_per_peer: 10/s}
`)
	if r := twistd(t, dir, nil, "check", "-c", "app.yaml"); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
}
