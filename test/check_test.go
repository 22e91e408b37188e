package test

import (
	"strings"
	"testing"
)

func TestCheckGoodFile(t *testing.T) {
	t.Parallel()
	r := twistd(t, "..", nil, "check", "-c", "configs/app.yaml")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "configs/app.yaml: ok (3 services)" {
		t.Fatalf("check: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestCheckBadFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string
		env  []string
		want []string // substrings of stderr, in order
		not  []string // substrings stderr must not have
	}{
		{
			name: "unknown top-level key",
			file: "servces: []\n",
			want: []string{`app.yaml:1:1:`, `unknown key "servces"`},
		},
		{
			name: "unknown service key",
			file: "services:\n  - type: echo\n    listen: tcp:0\n    colour: blue\n",
			want: []string{`app.yaml:4:5:`, `service "echo"`, `unknown key "colour"`},
		},
		{
			name: "wrong type",
			file: "services:\n  - type: echo\n    listen: {a: 1}\n",
			want: []string{`app.yaml:3:13:`, `service "echo"`},
		},
		{
			name: "an endpoint the service cannot serve",
			file: "services:\n  - type: web\n    path: .\n    listen: [tcp:0, udp:0]\n  - type: portforward\n    connect: 127.0.0.1:1\n    listen: udp:0\n",
			want: []string{`app.yaml:4:13:`, `service "web"`, `listen udp:0: the web service speaks TCP only`,
				`app.yaml:5:5:`, `service "portforward"`, `listen udp:0: port forwarding relays streams, not datagrams`},
		},
		{
			name: "bad endpoint",
			file: "services:\n  - type: echo\n    listen: tcp:notaport\n",
			want: []string{`app.yaml:3:13:`, `service "echo"`, `tcp:notaport`},
		},
		{
			name: "no endpoint",
			file: "services:\n  - type: echo\n    listen: []\n",
			want: []string{`app.yaml:2:5:`, `service "echo"`, `listen: at least one endpoint is required`},
		},
		{
			name: "only an invalid endpoint: one error, not two",
			file: "services:\n  - type: echo\n    listen: tcp:70000\n",
			want: []string{`app.yaml:3:13:`, `out of range`},
			not:  []string{`at least one endpoint`},
		},
		{
			name: "unknown service type",
			file: "services:\n  - type: gopher\n    listen: tcp:0\n",
			want: []string{`app.yaml:2:`, `unknown service type "gopher"`},
		},
		{
			name: "duplicate name",
			file: "services:\n  - {name: a, type: echo, listen: 'tcp:0'}\n  - {name: a, type: echo, listen: 'udp:0'}\n",
			want: []string{`app.yaml:3:`, `"a"`},
		},
		{
			name: "malformed name",
			file: "services:\n  - {name: Bad_Name, type: echo, listen: 'tcp:0'}\n",
			want: []string{`app.yaml:2:`, `Bad_Name`},
		},
		{
			name: "missing key file",
			file: "services:\n  - type: echo\n    listen: ssl:0:privateKey=nope.pem\n",
			want: []string{`app.yaml:3:13:`, `nope.pem`},
		},
		{
			name: "unset variable",
			file: "services:\n  - type: echo\n    listen: tcp:${TWISTD_TEST_UNSET_PORT}\n",
			want: []string{`app.yaml:3:13:`, `TWISTD_TEST_UNSET_PORT`},
		},
		{
			name: "syntax error",
			file: "services:\n  - type: echo\n   listen: [\n",
			want: []string{`app.yaml:`},
		},
		{
			name: "version 2",
			file: "version: 2\nservices:\n  - {type: echo, listen: 'tcp:0'}\n",
			want: []string{`app.yaml:1:10:`, `version`},
		},
		{
			name: "all errors at once, in line order",
			file: "bogus: 1\nservices:\n  - type: echo\n    listen: tcp:x\n  - type: gopher\n",
			want: []string{`app.yaml:1:1:`, `app.yaml:4:13:`, `app.yaml:5:`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "app.yaml", tt.file)
			r := twistd(t, dir, tt.env, "check", "-c", "app.yaml")
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
			for _, n := range tt.not {
				if strings.Contains(r.stderr, n) {
					t.Fatalf("stderr has %q:\n%s", n, r.stderr)
				}
			}
			// Running the same file fails the same way, with exit 2 and no pidfile.
			run := twistd(t, dir, tt.env, "-n", "-c", "app.yaml")
			if run.code != 2 {
				t.Fatalf("run: exit %d, want 2; stderr %q", run.code, run.stderr)
			}
		})
	}
}

func TestCheckVariableWithDefault(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "app.yaml", "services:\n  - type: echo\n    listen: tcp:${TWISTD_TEST_PORT:-0}\n")
	if r := twistd(t, dir, nil, "check", "-c", "app.yaml"); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if r := twistd(t, dir, []string{"TWISTD_TEST_PORT=x"}, "check", "-c", "app.yaml"); r.code != 2 {
		t.Fatalf("exit %d with a bad port from the environment, want 2", r.code)
	}
}

func TestCommandLineErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{name: "unknown flag", args: []string{"--bogus"}, code: 2, want: "unknown flag"},
		{name: "unknown plugin flag", args: []string{"echo", "--bogus"}, code: 2, want: "unknown flag"},
		{name: "global flag after plugin", args: []string{"echo", "--nodaemon"}, code: 2, want: "unknown flag"},
		{name: "no file", args: []string{"-n"}, code: 2, want: "no application file"},
		{name: "missing file", args: []string{"-n", "-c", "missing.yaml"}, code: 2, want: "missing.yaml"},
		{name: "bad endpoint flag", args: []string{"-n", "echo", "--listen", "tcp:x"}, code: 2, want: "tcp:x"},
		{name: "bad log level", args: []string{"-n", "--log-level", "loud", "echo"}, code: 2, want: "loud"},
		{name: "bad umask", args: []string{"-n", "--umask", "999", "echo"}, code: 2, want: "999"},
		{name: "unknown user", args: []string{"-n", "--pidfile=", "-u", "no-such-user-here", "echo", "--listen", "tcp:0:interface=127.0.0.1"}, code: 1, want: "no-such-user-here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := twistd(t, dir, nil, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, tt.code, tt.want)
			}
		})
	}
}

func TestPluginsAndVersion(t *testing.T) {
	t.Parallel()
	r := twistd(t, ".", nil, "plugins")
	if r.code != 0 || !strings.Contains(r.stdout, "echo") {
		t.Fatalf("plugins: %d %q", r.code, r.stdout)
	}
	r = twistd(t, ".", nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "twistd ") {
		t.Fatalf("version: %d %q", r.code, r.stdout)
	}
	r = twistd(t, ".", nil, "completion", "bash")
	if r.code != 0 || !strings.Contains(r.stdout, "bash completion") {
		t.Fatalf("completion bash: %d", r.code)
	}
}
