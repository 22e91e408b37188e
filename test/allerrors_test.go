package test

import (
	"strings"
	"testing"
)

// Type errors and value errors come out in one run, each at its key, as
// the README promises; check and a start agree.
func TestAllErrorsAtOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string
		want []string // substrings of stderr, in order
	}{
		{
			name: "a type error beside a negative max_connections",
			file: "services:\n  - type: echo\n    listen: tcp:0\n    policies: {max_connections: -1, idle_timeout: 5}\n",
			want: []string{`app.yaml:4:33: service "echo": policies: max_connections must not be negative`,
				`app.yaml:4:51: service "echo": duration "5" is missing a unit`},
		},
		{
			name: "web: a type error beside a bad policy",
			file: "services:\n  - type: web\n    path: .\n    listing: maybe\n    listen: tcp:0\n    policies:\n      max_connections_per_peer: -2\n",
			want: []string{`app.yaml:4:14: service "web": expected true or false`,
				`app.yaml:7:33: service "web": policies: max_connections_per_peer must not be negative`},
		},
		{
			name: "tcp: unknown protocol beside an unknown key",
			file: "services:\n  - type: tcp\n    protocol: gopher\n    listen: tcp:0\n    colour: blue\n",
			want: []string{`app.yaml:3:15: service "tcp": protocol "gopher"`, `app.yaml:5:5: service "tcp": unknown key "colour"`},
		},
		{
			name: "portforward: every problem",
			file: "services:\n  - type: portforward\n    listen: tcp:0\n    connect: nope\n    connect_timeout: -1s\n    policies: {max_connections: x}\n",
			want: []string{`app.yaml:4:14: service "portforward": connect "nope"`, `app.yaml:5:22: service "portforward": connect_timeout`,
				`app.yaml:6:33: service "portforward": expected an integer`},
		},
		{
			name: "a bad dns forward beside another service's type error",
			file: "services:\n  - type: echo\n    listen: tcp:0\n    policies: {idle_timeout: soon}\n  - type: dns\n    listen: udp:0\n    forward: ['not an address']\n",
			want: []string{`app.yaml:4:30: service "echo"`, `app.yaml:7:14: service "dns": forward`},
		},
		{
			name: "a bad dns forward beside a type error of the same entry",
			file: "services:\n  - type: dns\n    listen: udp:0\n    ttl: abc\n    forward: ['not an address']\n",
			want: []string{`app.yaml:4:10: service "dns"`, `app.yaml:5:14: service "dns": forward`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "app.yaml", tt.file)
			for _, args := range [][]string{{"check", "-c", "app.yaml"}, {"-n", "--pidfile=", "-c", "app.yaml"}} {
				r := twistd(t, dir, nil, args...)
				if r.code != 2 {
					t.Fatalf("%v: exit %d, want 2; stderr %q", args, r.code, r.stderr)
				}
				rest := r.stderr
				for _, w := range tt.want {
					i := strings.Index(rest, w)
					if i < 0 {
						t.Fatalf("%v: stderr lacks %q (in order):\n%s", args, w, r.stderr)
					}
					rest = rest[i+len(w):]
				}
			}
		})
	}
}
