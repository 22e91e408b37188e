package test

import (
	"strings"
	"testing"
)

// Two services on one address would both log "listening" while one of
// them never sees a connection: check and start refuse the file, naming
// both entries.
func TestListenConflicts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string
		want []string // substrings of stderr, in order; nil: the file is fine
	}{
		{
			name: "web and echo on one tcp port",
			file: "services:\n  - type: web\n    path: .\n    listen: tcp:18080\n  - type: echo\n    listen: tcp:18080\n",
			want: []string{`app.yaml:6:13: service "echo": listen tcp:18080 conflicts with service "web" at app.yaml:4:13`, `both bind TCP port 18080`},
		},
		{
			name: "two dns services on udp:5353",
			file: "services:\n  - {name: a, type: dns, listen: 'udp:5353'}\n  - {name: b, type: dns, listen: 'udp:5353'}\n",
			want: []string{`app.yaml:3:34: service "b": listen udp:5353 conflicts with service "a" at app.yaml:2:34`, `UDP port 5353`},
		},
		{
			name: "all interfaces and loopback",
			file: "services:\n  - {name: a, type: echo, listen: 'tcp:18081:interface=0.0.0.0'}\n  - {name: b, type: echo, listen: 'tcp:18081:interface=127.0.0.1'}\n",
			want: []string{`app.yaml:3:35: service "b"`, `app.yaml:2:35`, `reuseport=true to both`},
		},
		{
			name: "reuseport on one side only",
			file: "services:\n  - {name: a, type: echo, listen: 'tcp:18082:reuseport=true'}\n  - {name: b, type: echo, listen: 'tcp:18082'}\n",
			want: []string{`app.yaml:3:35: service "b"`, `reuseport=true must be on both`},
		},
		{
			name: "admin and a service",
			file: "admin: {listen: 'tcp:18083:interface=127.0.0.1'}\nservices:\n  - {type: echo, listen: 'tcp:18083'}\n",
			want: []string{`app.yaml:3:26: service "echo": listen tcp:18083 conflicts with the admin endpoint at app.yaml:1:17`},
		},
		{
			name: "reuseport on both, tcp beside udp, other interfaces, port 0",
			file: "services:\n" +
				"  - {name: a, type: echo, listen: ['tcp:18084:reuseport=true', 'udp:18085', 'tcp:18086:interface=127.0.0.1', 'tcp:0']}\n" +
				"  - {name: b, type: echo, listen: ['tcp:18084:reuseport=true', 'tcp:18085', 'tcp:18086:interface=127.0.0.2', 'tcp:0']}\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "app.yaml", tt.file)
			r := twistd(t, dir, nil, "check", "-c", "app.yaml")
			if tt.want == nil {
				if r.code != 0 {
					t.Fatalf("check: exit %d, want 0; stderr %q", r.code, r.stderr)
				}
				return
			}
			if r.code != 2 {
				t.Fatalf("check: exit %d, want 2; stdout %q stderr %q", r.code, r.stdout, r.stderr)
			}
			rest := r.stderr
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("stderr lacks %q (in order):\n%s", w, r.stderr)
				}
				rest = rest[i+len(w):]
			}
			run := twistd(t, dir, nil, "-n", "--pidfile=", "-c", "app.yaml")
			if run.code != 2 || !strings.Contains(run.stderr, "conflicts with") || strings.Contains(run.stdout+run.stderr, "listening on") {
				t.Fatalf("run: exit %d, want 2 and nothing bound; stdout %q stderr %q", run.code, run.stdout, run.stderr)
			}
		})
	}
}

// A one-liner's flags are checked the same way.
func TestListenConflictOneLiner(t *testing.T) {
	t.Parallel()
	r := twistd(t, t.TempDir(), nil, "-n", "--pidfile=", "echo", "--listen", "tcp:18087", "--listen", "tcp:18087:interface=127.0.0.1")
	if r.code != 2 || !strings.Contains(r.stderr, "conflicts with") {
		t.Fatalf("exit %d, stderr %q; want 2 and a conflict", r.code, r.stderr)
	}
}
