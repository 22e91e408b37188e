package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The version, commit and build date stamped at build time (make build,
// make release) are what --version prints, and what `go version -m` shows.
func TestVersionStamped(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "twistd")
	const cli = "github.com/twistd-go/twistd/internal/cli"
	ld := "-X " + cli + ".version=0.2.0 -X " + cli + ".commit=abc1234def -X " + cli + ".date=2026-12-03T12:00:00Z"
	build := exec.Command("go", "build", "-ldflags", ld, "-o", bin, "../cmd/twistd")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	want := "twistd 0.2.0 (commit abc1234, built 2026-12-03T12:00:00Z, " + runtime.Version() + ")\n"
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, err := exec.Command(bin, args...).Output()
		if err != nil || string(out) != want {
			t.Fatalf("twistd %s: %v %q, want %q", args[0], err, out, want)
		}
	}
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil || !strings.Contains(string(out), cli+".version=0.2.0") || !strings.Contains(string(out), cli+".commit=abc1234def") {
		t.Fatalf("go version -m does not show the stamp: %v\n%s", err, out)
	}
}

// An unstamped build (go build, go install) still names its Go version.
func TestVersionUnstamped(t *testing.T) {
	t.Parallel()
	r := twistd(t, ".", nil, "--version")
	if r.code != 0 || !regexp.MustCompile(`^twistd \S+ \((.*, )?`+regexp.QuoteMeta(runtime.Version())+`\)\n$`).MatchString(r.stdout) {
		t.Fatalf("--version: %d %q", r.code, r.stdout)
	}
}

// The manual pages are generated from the commands, and man renders them.
func TestManPagesRender(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("man"); err != nil {
		t.Skip("man is not installed")
	}
	dir := t.TempDir()
	if r := twistd(t, ".", nil, "man", dir); r.code != 0 {
		t.Fatalf("twistd man: %d %s", r.code, r.stderr)
	}
	pages := map[string][]string{
		"twistd.1":             {"TWISTD(1)", "--nodaemon", "--pidfile", "twistd-web(1)"},
		"twistd-web.1":         {"TWISTD-WEB(1)", "--port", "--path", "twistd(1)"},
		"twistd-dns.1":         {"TWISTD-DNS(1)", "--hosts-file", "--bindzone"},
		"twistd-echo.1":        {"TWISTD-ECHO(1)", "--listen"},
		"twistd-portforward.1": {"TWISTD-PORTFORWARD(1)", "--dest_port"},
		"twistd-tcp.1":         {"--protocol"},
		"twistd-check.1":       {"TWISTD-CHECK(1)"},
		"twistd.yaml.5": {"TWISTD.YAML(5)", "NAME", "twistd.yaml - the twistd application file", "ENDPOINTS", "POLICIES",
			"idle_timeout", "haproxy:", "${VAR}", "shutdown_timeout", "SEE ALSO"},
	}
	for page, wants := range pages {
		cmd := exec.Command("man", "-l", filepath.Join(dir, page))
		cmd.Env = append(os.Environ(), "MANWIDTH=100", "MAN_KEEP_FORMATTING=0", "PAGER=cat")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("man -l %s: %v\n%s", page, err, out)
		}
		text := regexp.MustCompile(".\x08").ReplaceAllString(string(out), "") // overstrike bold
		if strings.Contains(text, "warning:") {
			t.Errorf("man -l %s warns:\n%s", page, text)
		}
		for _, w := range wants {
			if !strings.Contains(text, w) {
				t.Errorf("man -l %s lacks %q:\n%s", page, w, text)
			}
		}
	}
}

// twistd help TOPIC for the endpoints, the policies and the file format.
func TestHelpTopics(t *testing.T) {
	t.Parallel()
	for topic, wants := range map[string][]string{
		"endpoints": {"tcp:PORT[:interface=ADDR]", "unix:PATH", "systemd:name=NAME", "haproxy:"},
		"policies":  {"idle_timeout", "max_connections_per_peer", "allow:", "deny:"},
		"file":      {"services:", "process:", "${VAR}", "file:line:col", "watch"},
	} {
		r := twistd(t, ".", nil, "help", topic)
		if r.code != 0 {
			t.Fatalf("help %s: exit %d %s", topic, r.code, r.stderr)
		}
		for _, w := range wants {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("help %s lacks %q:\n%s", topic, w, r.stdout)
			}
		}
	}
	r := twistd(t, ".", nil, "--help")
	for _, w := range []string{"Additional help topics", "twistd file", "twistd endpoints", "twistd policies"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("--help lacks %q:\n%s", w, r.stdout)
		}
	}
}

// A flag on the wrong side of the plugin's name says which side it
// belongs on and prints the corrected command line.
func TestMisplacedFlags(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args       []string
		says, want string
	}{
		{[]string{"web", "-n", "--port", "8080"}, "-n is a global flag: it goes before the plugin's name (web)",
			"corrected: twistd -n web --port 8080"},
		{[]string{"--port", "80", "web"}, "--port is a flag of web: it goes after the plugin's name",
			"corrected: twistd web --port 80"},
		{[]string{"-n", "--path", "/srv/www", "web", "--pidfile", "x.pid", "--port", "80"},
			"--pidfile is a global flag", "corrected: twistd -n --pidfile x.pid web --path /srv/www --port 80"},
		{[]string{"portforward", "-p", "8080", "--nodaemon", "-h", "example.test", "-d", "80"},
			"--nodaemon is a global flag", "corrected: twistd --nodaemon portforward -p 8080 -h example.test -d 80"},
		{[]string{"--logfile", "main log", "echo", "--shutdown-timeout=5s"}, "--shutdown-timeout is a global flag",
			"corrected: twistd --logfile 'main log' --shutdown-timeout=5s echo"},
	} {
		r := twistd(t, t.TempDir(), nil, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.says) || !strings.Contains(r.stderr, c.want) {
			t.Errorf("twistd %q: exit %d, stderr:\n%s\nwant %q and %q", c.args, r.code, r.stderr, c.says, c.want)
		}
	}
	// What follows procmon's command is the command's: sh's -c is not
	// twistd's -c, but twistd's -n before it is still moved.
	r := twistd(t, t.TempDir(), nil, "procmon", "-n", "sh", "-c", "echo hi")
	if r.code != 2 || !strings.Contains(r.stderr, "corrected: twistd -n procmon sh -c 'echo hi'") || strings.Contains(r.stderr, "-c is a global flag") {
		t.Errorf("procmon -n sh -c: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	r = twistd(t, t.TempDir(), nil, "procmon", "--no-such-flag", "sh", "-c", "echo hi")
	if r.code != 2 || strings.Contains(r.stderr, "corrected") {
		t.Errorf("procmon --no-such-flag sh -c: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	// A flag neither side knows is only reported.
	r = twistd(t, t.TempDir(), nil, "web", "--no-such-flag")
	if r.code != 2 || !strings.Contains(r.stderr, "unknown flag: --no-such-flag") || strings.Contains(r.stderr, "corrected") {
		t.Errorf("unknown flag: exit %d %s", r.code, r.stderr)
	}
}

// An unknown command suggests the nearest ones.
func TestUnknownCommandSuggests(t *testing.T) {
	t.Parallel()
	for typed, want := range map[string]string{"wbe": "did you mean web?", "sttaus": "did you mean status?",
		"plugin": "did you mean plugins?", "relaod": "did you mean reload?"} {
		r := twistd(t, ".", nil, typed)
		if r.code != 2 || !strings.Contains(r.stderr, `unknown command "`+typed+`"; `+want) {
			t.Errorf("twistd %s: exit %d %q, want %q", typed, r.code, r.stderr, want)
		}
	}
	r := twistd(t, ".", nil, "xyzzy")
	if r.code != 2 || !strings.Contains(r.stderr, `unknown command "xyzzy"`) || strings.Contains(r.stderr, "did you mean") {
		t.Errorf("twistd xyzzy: exit %d %q", r.code, r.stderr)
	}
}

// `make run` keeps a pidfile, so the README's status, reload and stop,
// typed in the same directory, find the demo; its ports move with
// environment variables (here: all to 0, so it runs beside anything).
func TestDemoRunWithReadmeCommands(t *testing.T) {
	t.Parallel()
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	run := regexp.MustCompile(`(?m)^run:.*\n\t(.*)$`).FindSubmatch(mk)
	if run == nil || string(run[1]) != "$(BIN) -n -c configs/app.yaml" {
		t.Fatalf("make run is %q; want the demo with its default pidfile", run)
	}
	app, err := filepath.Abs("../configs/app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := []string{"WEB_PORT=0", "DNS_PORT=0", "ECHO_PORT=0", "ADMIN_PORT=0"}
	s := start(t, dir, env, "-n", "-c", app)
	if n := len(s.addrs()); n != 6 {
		t.Fatalf("want 6 listeners (admin, echo tcp+udp, site, dns udp+tcp), got %d:\n%s", n, s.output())
	}
	pid := itoa(s.cmd.Process.Pid)
	for _, c := range []struct{ cmd, want string }{
		{"status", "running (pid " + pid + ")"},
		{"reload", "reloaded (pid " + pid + ")"},
		{"stop", "stopped (pid " + pid + ")"},
	} {
		r := twistd(t, dir, env, c.cmd)
		if r.code != 0 || strings.TrimSpace(r.stdout) != c.want {
			t.Fatalf("twistd %s: exit %d %q %s; want %q", c.cmd, r.code, r.stdout, r.stderr, c.want)
		}
	}
	if code := s.wait(5 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if r := twistd(t, dir, nil, "status"); r.code != 3 {
		t.Fatalf("status after stop: %d %q", r.code, r.stdout)
	}
}

// The package's /etc/twistd/app.yaml is stand-alone: every path in it is
// absolute, and with its web root where the package puts it (here a copy
// of packaging/www) it passes twistd check.
func TestPackagedAppFileStandsAlone(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../packaging/app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^\s+(path|hosts_file|zones|htpasswd|access_log): *(.*)$`).FindAllStringSubmatch(string(data), -1) {
		if !strings.HasPrefix(m[2], "/") {
			t.Errorf("packaging/app.yaml: %s: %s is relative: /etc/twistd has nothing beside the file", m[1], m[2])
		}
	}
	www, err := filepath.Abs("../packaging/www")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	app := writeFile(t, dir, "app.yaml", strings.ReplaceAll(string(data), "/usr/share/twistd/www", www))
	if r := twistd(t, "/", nil, "check", "-c", app); r.code != 0 || !strings.HasSuffix(strings.TrimSpace(r.stdout), ": ok (3 services)") {
		t.Fatalf("check: %d %q %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(string(data), "path: /usr/share/twistd/www") {
		t.Fatal("the web root is not the package's /usr/share/twistd/www")
	}
}
