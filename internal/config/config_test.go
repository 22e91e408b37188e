package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.golden files")

// testEnv is the environment the testdata files see.
var testEnv = map[string]string{
	"TWISTD_TEST_PORT":  "7001",
	"TWISTD_TEST_DIR":   "public",
	"TWISTD_TEST_A":     "a",
	"TWISTD_TEST_B":     "b",
	"TWISTD_TEST_EMPTY": "",
}

func testOptions() Options {
	return Options{
		KnownType: func(typ string) bool {
			switch typ {
			case "echo", "tcp", "web", "dns", "portforward":
				return true
			}
			return false
		},
		LookupEnv: func(k string) (string, bool) {
			v, ok := testEnv[k]
			return v, ok
		},
	}
}

// pluginOptions stands for a plugin's options: what the testdata services
// decode their own keys into.
type pluginOptions struct {
	Protocol  string            `yaml:"protocol"`
	Path      DirPath           `yaml:"path"`
	Index     []string          `yaml:"index"`
	Listing   *bool             `yaml:"listing"`
	Headers   map[string]string `yaml:"add_headers"`
	AccessLog Path              `yaml:"access_log"`
	Htpasswd  FilePath          `yaml:"htpasswd"`
	Timeout   time.Duration     `yaml:"timeout"`
	CacheSize Size              `yaml:"cache_size"`
	TTL       uint32            `yaml:"ttl"`
	Ratio     float64           `yaml:"ratio"`
	Connect   string            `yaml:"connect"`
	Policies  policies          `yaml:"policies"`
	Extra     any               `yaml:"extra"`
}

type policies struct {
	IdleTimeout           time.Duration `yaml:"idle_timeout"`
	MaxConnections        int           `yaml:"max_connections"`
	MaxConnectionsPerPeer uint16        `yaml:"max_connections_per_peer"`
}

// loadAll loads path and decodes every service as a plugin would,
// returning the file and every error, sorted.
func loadAll(t testing.TB, path string) (*File, error) {
	t.Helper()
	f, err := Load(path, testOptions())
	errs := []error{err}
	if f != nil {
		for _, s := range f.Services {
			errs = append(errs, s.Decode(&pluginOptions{}))
		}
	}
	return f, Join(errs...)
}

// TestGolden loads every testdata/*.yaml and compares what it reports
// with the .golden file beside it. Run with -update to rewrite them.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			f, err := loadAll(t, path)
			var got string
			if err != nil {
				got = err.Error()
				checkErrors(t, path, err)
			} else {
				got = "ok (" + strconv.Itoa(len(f.Services)) + " services)"
			}
			got = strings.ReplaceAll(got, abs, "$TESTDATA") + "\n"
			golden := strings.TrimSuffix(path, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s:\ngot:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}

// checkErrors asserts that every element of err is an *Error in file path with a position.
func checkErrors(t testing.TB, path string, err error) {
	t.Helper()
	for _, e := range flatten(nil, err) {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Errorf("error %q is a %T, not an *Error", e, e)
			continue
		}
		if ce.Pos.File != path || ce.Pos.Line < 1 || ce.Pos.Col < 1 {
			t.Errorf("error %q has position %+v", e, ce.Pos)
		}
		if ce.Msg == "" {
			t.Errorf("error at %v has no message", ce.Pos)
		}
	}
}

func TestLoadOK(t *testing.T) {
	f, err := loadAll(t, "testdata/ok.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs("testdata")
	if f.Name != "demo" || f.Dir != dir || f.Path != "testdata/ok.yaml" {
		t.Errorf("Name, Dir, Path = %q, %q, %q", f.Name, f.Dir, f.Path)
	}
	var got []string
	for _, s := range f.Services {
		got = append(got, s.Name+"/"+s.Type+"="+strings.Join(s.Listen.Strings(), ","))
	}
	want := []string{
		"echo/echo=tcp:7000,udp:7000",
		"tcp/tcp=tcp:7001",
		"site/web=tcp:8080,ssl:8443:privateKey=" + dir + "/files/key.pem:certKey=" + dir + "/files/cert.pem",
		"names/dns=tcp:5353",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("services:\ngot  %q\nwant %q", got, want)
	}
	if f.Admin == nil || !f.Admin.Pprof || len(f.Admin.Listen) != 1 || f.Admin.Listen[0].String() != "tcp:9090:interface=127.0.0.1" {
		t.Errorf("admin = %+v", f.Admin)
	}
	if s := f.Services[1]; s.Pos.Line != 21 || s.Pos.Col != 5 {
		t.Errorf("tcp service at %v, want line 21 col 5", s.Pos)
	}

	var site pluginOptions
	if err := f.Services[2].Decode(&site); err != nil {
		t.Fatal(err)
	}
	wantSite := pluginOptions{
		Path:      DirPath(filepath.Join(dir, "public")),
		Index:     []string{"index.html", "index.htm"},
		Listing:   new(bool),
		Headers:   map[string]string{"X-Frame-Options": "DENY"},
		AccessLog: Path(filepath.Join(dir, "access.log")),
		Htpasswd:  FilePath(filepath.Join(dir, "files/htpasswd")),
		CacheSize: 64 << 10,
		Policies:  policies{IdleTimeout: 5 * time.Minute, MaxConnectionsPerPeer: 8},
	}
	if !reflect.DeepEqual(site, wantSite) {
		t.Errorf("site options:\ngot  %+v\nwant %+v", site, wantSite)
	}

	var names pluginOptions
	if err := f.Services[3].Decode(&names); err != nil {
		t.Fatal(err)
	}
	wantExtra := map[string]any{"forward": []any{"9.9.9.9:53"}}
	if names.TTL != 3600 || names.Ratio != 0.5 || names.Connect != "${NOT_A_VARIABLE}" || !reflect.DeepEqual(names.Extra, wantExtra) {
		t.Errorf("names options = %+v", names)
	}
}

func TestProcessSettings(t *testing.T) {
	f, err := Load("testdata/ok.yaml", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs("testdata")
	got := f.Process.Settings()
	want := map[string]any{
		"pidfile":          filepath.Join(dir, "demo.pid"),
		"logfile":          "-",
		"log-format":       "json",
		"log-level":        "debug",
		"umask":            "0022",
		"shutdown-timeout": "20s",
		"log-max-size":     2, // 1.5MiB, rounded up
		"log-max-backups":  3,
		"nodaemon":         true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Settings():\ngot  %v\nwant %v", got, want)
	}
	if got := (Process{}).Settings(); len(got) != 0 {
		t.Errorf("empty Process: Settings() = %v, want no keys", got)
	}
}

func TestProcessFields(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want map[string]any
	}{
		{name: "umask without leading zero", yaml: "{umask: 22}", want: map[string]any{"umask": "0022"}},
		{name: "umask quoted", yaml: `{umask: "0077"}`, want: map[string]any{"umask": "0077"}},
		{name: "empty pidfile kept", yaml: `{pidfile: ""}`, want: map[string]any{"pidfile": ""}},
		{name: "absolute paths kept", yaml: "{rundir: /var/run/x/, chroot: /srv}", want: map[string]any{"rundir": "/var/run/x", "chroot": "/srv"}},
		{name: "uid as number", yaml: "{uid: 1000, gid: www}", want: map[string]any{"uid": "1000", "gid": "www"}},
		{name: "syslog and prefix", yaml: "{syslog: on, prefix: demo}", want: map[string]any{"syslog": true, "prefix": "demo"}},
		{name: "zero durations", yaml: "{shutdown_timeout: 0, shutdown_delay: 0s}", want: map[string]any{"shutdown-timeout": "0s", "shutdown-delay": "0s"}},
		{name: "size in bytes", yaml: "{log_max_size: 1}", want: map[string]any{"log-max-size": 1}},
		{name: "nothing set", yaml: "{}", want: map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := "process: " + tt.yaml + "\nservices: [{type: echo}]\n"
			f, err := Parse("app.yaml", ".", []byte(data), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Process.Settings(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Settings() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRelativePaths loads a file from a subdirectory: every relative path
// in it is resolved against that directory, not the working directory.
func TestRelativePaths(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub", "app")
	for _, p := range []string{"public", "tls"} {
		if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"tls/key.pem", "htpasswd"} {
		if err := os.WriteFile(filepath.Join(dir, p), []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	app := `
process: {pidfile: run/demo.pid, logfile: logs/demo.log, rundir: ., chroot: ../jail}
services:
  - type: web
    listen: [ssl:8443:privateKey=tls/key.pem, unix:web.sock]
    path: public
    htpasswd: ./htpasswd
    access_log: ../access.log
`
	path := filepath.Join(dir, "app.yaml")
	if err := os.WriteFile(path, []byte(app), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var opts pluginOptions
	if err := f.Services[0].Decode(&opts); err != nil {
		t.Fatal(err)
	}
	up := filepath.Dir(dir)
	tests := []struct {
		name, got, want string
	}{
		{name: "pidfile", got: *f.Process.Pidfile, want: filepath.Join(dir, "run/demo.pid")},
		{name: "logfile", got: *f.Process.Logfile, want: filepath.Join(dir, "logs/demo.log")},
		{name: "rundir", got: *f.Process.Rundir, want: dir},
		{name: "chroot", got: *f.Process.Chroot, want: filepath.Join(up, "jail")},
		{name: "ssl key", got: f.Services[0].Listen[0].PrivateKey, want: filepath.Join(dir, "tls/key.pem")},
		{name: "unix socket", got: f.Services[0].Listen[1].Path, want: filepath.Join(dir, "web.sock")},
		{name: "DirPath", got: string(opts.Path), want: filepath.Join(dir, "public")},
		{name: "FilePath", got: string(opts.Htpasswd), want: filepath.Join(dir, "htpasswd")},
		{name: "Path", got: string(opts.AccessLog), want: filepath.Join(up, "access.log")},
		{name: "Service.Dir", got: f.Services[0].Dir(), want: dir},
		{name: "default name", got: f.Name, want: "app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestEnv(t *testing.T) {
	env := map[string]string{"PORT": "8080", "EMPTY": "", "DIR": "/srv/www", "YES": "true"}
	tests := []struct {
		name    string
		value   string // the value of protocol:
		want    string
		wantErr string
	}{
		{name: "set", value: "${PORT}", want: "8080"},
		{name: "inside text", value: "tcp:${PORT}:interface=x", want: "tcp:8080:interface=x"},
		{name: "two", value: "${DIR}/${PORT}", want: "/srv/www/8080"},
		{name: "default unused", value: "${PORT:-9}", want: "8080"},
		{name: "default used when unset", value: "${NOPE:-9090}", want: "9090"},
		{name: "default used when empty", value: "${EMPTY:-x}", want: "x"},
		{name: "empty default", value: "a${NOPE:-}b", want: "ab"},
		{name: "set but empty", value: "<${EMPTY}>", want: "<>"},
		{name: "default with colon", value: "${NOPE:-tcp:80}", want: "tcp:80"},
		{name: "escaped", value: "$${PORT}", want: "${PORT}"},
		{name: "lone dollars untouched", value: "$PORT $$ $", want: "$PORT $$ $"},
		{name: "quoted", value: `"${PORT}"`, want: "8080"},
		{name: "unset", value: "${NOPE}", wantErr: `app.yaml:3:15: service "echo": environment variable NOPE is not set (write ${NOPE:-default} to give a default)`},
		{name: "unterminated", value: "${PORT", wantErr: `app.yaml:3:15: service "echo": unterminated "${" in "${PORT" (write $${ for a literal ${)`},
		{name: "bad name", value: "${1X}", wantErr: `app.yaml:3:15: service "echo": bad variable reference "${1X}": want ${NAME} or ${NAME:-default}`},
		{name: "nested", value: "${A:-${B}}", wantErr: `app.yaml:3:15: service "echo": bad variable reference "${A:-${B}": a default cannot hold another ${...}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := "services:\n  - type: echo\n    protocol: " + tt.value + "\n"
			f, err := Parse("app.yaml", ".", []byte(data), Options{LookupEnv: func(k string) (string, bool) {
				v, ok := env[k]
				return v, ok
			}})
			if err == nil {
				var opts pluginOptions
				err = f.Services[0].Decode(&opts)
				if err == nil && opts.Protocol != tt.want {
					t.Errorf("got %q, want %q", opts.Protocol, tt.want)
				}
			}
			if got := errString(err); got != tt.wantErr {
				t.Errorf("error:\ngot  %s\nwant %s", got, tt.wantErr)
			}
		})
	}
}

// TestEnvTypes checks that a substituted value is read as what it now says.
func TestEnvTypes(t *testing.T) {
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"N": "3600", "B": "no", "EMPTY": "", "NULL": "null"}[k]
		return v, ok
	}
	data := `
process:
  pidfile: "${EMPTY}"
  prefix: ${NULL}
services:
  - type: dns
    listen: ${N}
    ttl: ${N}
    listing: ${B}
    extra: ${N}
`
	f, err := Parse("app.yaml", ".", []byte(data), Options{LookupEnv: env})
	if err != nil {
		t.Fatal(err)
	}
	var opts pluginOptions
	if err := f.Services[0].Decode(&opts); err != nil {
		t.Fatal(err)
	}
	if opts.TTL != 3600 || opts.Listing == nil || *opts.Listing || opts.Extra != 3600 {
		t.Errorf("options = %+v", opts)
	}
	if f.Services[0].Listen[0].String() != "tcp:3600" {
		t.Errorf("listen = %v", f.Services[0].Listen)
	}
	if p := f.Process.Pidfile; p == nil || *p != "" {
		t.Errorf("pidfile = %v, want set to empty", p)
	}
	if p := f.Process.Prefix; p == nil || *p != "null" {
		t.Errorf("prefix = %v, want the string null", p)
	}
}

func TestExpandUntouched(t *testing.T) {
	for _, s := range []string{"", "plain", "$HOME", "100$", "$$", "{x}", "$ {X}"} {
		got, problems := expand(s, func(string) (string, bool) { return "!", true })
		if got != s || problems != nil {
			t.Errorf("expand(%q) = %q, %v", s, got, problems)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    Size
		wantErr string
	}{
		{in: "0", want: 0},
		{in: "512", want: 512},
		{in: "512B", want: 512},
		{in: "64KiB", want: 64 << 10},
		{in: "64kib", want: 64 << 10},
		{in: "64K", want: 64 << 10},
		{in: "1KB", want: 1000},
		{in: "1MB", want: 1_000_000},
		{in: "1mb", want: 1_000_000},
		{in: "1MiB", want: 1 << 20},
		{in: "1M", want: 1 << 20},
		{in: "2GiB", want: 2 << 30},
		{in: "2G", want: 2 << 30},
		{in: "3GB", want: 3_000_000_000},
		{in: "1TiB", want: 1 << 40},
		{in: "1.5MiB", want: 3 << 19},
		{in: "0.5KB", want: 500},
		{in: " 10 MiB ", want: 10 << 20},
		{in: "1_000", want: 1000},
		{in: "8EiB", wantErr: `bad size "8EiB": unknown unit "EiB" (use B, KB, KiB, MB, MiB, GB, GiB, TB or TiB)`},
		{in: "12XB", wantErr: `bad size "12XB": unknown unit "XB" (use B, KB, KiB, MB, MiB, GB, GiB, TB or TiB)`},
		{in: "-1", wantErr: `size "-1" is negative`},
		{in: "", wantErr: `bad size "": want a number and an optional unit, such as 512, 64KiB or 1MB`},
		{in: "MiB", wantErr: `bad size "MiB": want a number and an optional unit, such as 512, 64KiB or 1MB`},
		{in: "1e6", wantErr: `bad size "1e6": want a number and an optional unit, such as 512, 64KiB or 1MB`},
		{in: "9223372036854775807", want: 9223372036854775807},
		{in: "9223372036854775808", wantErr: `size "9223372036854775808" is too large`},
		{in: "8388608TiB", wantErr: `size "8388608TiB" is too large`},
		{in: "8388608.5TiB", wantErr: `size "8388608.5TiB" is too large`},
		{in: "8388607.5TiB", want: 8388607<<40 + 1<<39},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if errString(err) != tt.wantErr || got != tt.want {
				t.Errorf("ParseSize(%q) = %d, %v; want %d, %q", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestSizeString(t *testing.T) {
	for _, tt := range []struct {
		in   Size
		want string
	}{{0, "0"}, {1, "1B"}, {1000, "1000B"}, {1 << 10, "1KiB"}, {3 << 19, "1536KiB"}, {1 << 30, "1GiB"}} {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
	}
}

// decodeTarget exercises the decoder's kinds.
type decodeTarget struct {
	S     string         `yaml:"s"`
	B     bool           `yaml:"b"`
	I8    int8           `yaml:"i8"`
	I     int            `yaml:"i"`
	U     uint           `yaml:"u"`
	U8    uint8          `yaml:"u8"`
	F     float64        `yaml:"f"`
	D     time.Duration  `yaml:"d"`
	P     *int           `yaml:"p"`
	L     []int          `yaml:"l"`
	M     map[string]int `yaml:"m"`
	MI    map[int]string `yaml:"mi"`
	A     any            `yaml:"a"`
	Name  string         // untagged: "name"
	Skip  string         `yaml:"-"`
	Inner `yaml:",inline"`
	Ptr   *struct {
		X int `yaml:"x"`
	} `yaml:"ptr"`
	Req string `yaml:"req,required"`
	//lint:ignore U1000 present to prove the decoder skips unexported fields
	hidden string
}

type Inner struct {
	Deep string `yaml:"deep"`
}

// upper is an Unmarshaler with a pointer receiver.
type upper string

func (u *upper) UnmarshalConfig(d *Decoder, n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return d.Errorf(n, "want a scalar")
	}
	*u = upper(strings.ToUpper(n.Value))
	return nil
}

func TestDecoder(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		check   func(decodeTarget) bool
		noReq   bool // leave the required key out
		wantErr string
	}{
		{name: "string from number", yaml: "s: 0x1F", check: func(v decodeTarget) bool { return v.S == "0x1F" }},
		{name: "bools", yaml: "b: yes", check: func(v decodeTarget) bool { return v.B }},
		{name: "bool off", yaml: "{b: Off}", check: func(v decodeTarget) bool { return !v.B }},
		{name: "int forms", yaml: "{i: 0x10, i8: -128, u: 1_000, u8: 255}", check: func(v decodeTarget) bool {
			return v.I == 16 && v.I8 == -128 && v.U == 1000 && v.U8 == 255
		}},
		{name: "float", yaml: "f: 1e3", check: func(v decodeTarget) bool { return v.F == 1000 }},
		{name: "duration", yaml: "d: 1m30s", check: func(v decodeTarget) bool { return v.D == 90*time.Second }},
		{name: "zero duration", yaml: "d: 0", check: func(v decodeTarget) bool { return v.D == 0 }},
		{name: "pointer", yaml: "p: 7", check: func(v decodeTarget) bool { return v.P != nil && *v.P == 7 }},
		{name: "null pointer", yaml: "p: ~", check: func(v decodeTarget) bool { return v.P == nil }},
		{name: "list", yaml: "l: [1, 2]", check: func(v decodeTarget) bool { return reflect.DeepEqual(v.L, []int{1, 2}) }},
		{name: "map", yaml: "m: {a: 1}", check: func(v decodeTarget) bool { return v.M["a"] == 1 }},
		{name: "int keys", yaml: "mi: {1: a}", check: func(v decodeTarget) bool { return v.MI[1] == "a" }},
		{name: "any", yaml: "a: [1, x]", check: func(v decodeTarget) bool { return reflect.DeepEqual(v.A, []any{1, "x"}) }},
		{name: "untagged and inline", yaml: "{name: n, deep: d}", check: func(v decodeTarget) bool { return v.Name == "n" && v.Deep == "d" }},
		{name: "struct pointer", yaml: "ptr: {x: 3}", check: func(v decodeTarget) bool { return v.Ptr != nil && v.Ptr.X == 3 }},
		{name: "alias", yaml: "{i: &n 5, u: *n}", check: func(v decodeTarget) bool { return v.I == 5 && v.U == 5 }},
		{name: "merge", yaml: "{ptr: &p {x: 1}, m: {<<: {a: 1, b: 2}, b: 3}}", check: func(v decodeTarget) bool {
			return reflect.DeepEqual(v.M, map[string]int{"a": 1, "b": 3})
		}},

		{name: "missing required", yaml: "{}", noReq: true, wantErr: `app.yaml:1:1: missing key "req"`},
		{name: "skipped field", yaml: "skip: x", wantErr: `app.yaml:1:1: unknown key "skip"`},
		{name: "unexported field", yaml: "hidden: x", wantErr: `app.yaml:1:1: unknown key "hidden"`},
		{name: "string from list", yaml: "s: [a]", wantErr: `app.yaml:1:4: expected a string, got a list`},
		{name: "bad bool", yaml: "b: 1", wantErr: `app.yaml:1:4: expected true or false, got "1"`},
		{name: "int8 overflow", yaml: "i8: 128", wantErr: `app.yaml:1:5: "128" is out of range (-128 to 127)`},
		{name: "uint negative", yaml: "u: -1", wantErr: `app.yaml:1:4: expected a non-negative integer, got "-1"`},
		{name: "uint8 overflow", yaml: "u8: 256", wantErr: `app.yaml:1:5: "256" is out of range (0 to 255)`},
		{name: "float for int", yaml: "i: 1.5", wantErr: `app.yaml:1:4: expected an integer, got "1.5"`},
		{name: "bad float", yaml: "f: inf", wantErr: `app.yaml:1:4: expected a number, got "inf"`},
		{name: "duration without unit", yaml: "d: 30", wantErr: `app.yaml:1:4: duration "30" is missing a unit: write "30s", "30ms", "30m"...`},
		{name: "scalar for list", yaml: "l: 1", wantErr: `app.yaml:1:4: expected a list, got "1"`},
		{name: "list for map", yaml: "m: [1]", wantErr: `app.yaml:1:4: expected a mapping, got a list`},
		{name: "list for struct", yaml: "ptr: []", wantErr: `app.yaml:1:6: expected a mapping, got a list`},
		{name: "duplicate key", yaml: "{s: a, s: b}", wantErr: `app.yaml:1:8: duplicate key "s" (first at line 1)`},
		{name: "non-string key", yaml: "{[a]: 1}", wantErr: `app.yaml:1:2: keys must be strings, got a list`},
		{name: "bad merge", yaml: "{m: {<<: 5}}", wantErr: `app.yaml:1:10: a merge (<<) takes a mapping or a list of mappings, got "5"`},
		{name: "several", yaml: "{s: [], i: x,\n l: [a, 2, b]}", wantErr: "app.yaml:1:5: expected a string, got a list\n" +
			"app.yaml:1:12: expected an integer, got \"x\"\n" +
			"app.yaml:2:6: expected an integer, got \"a\"\n" +
			"app.yaml:2:12: expected an integer, got \"b\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(tt.yaml), &n); err != nil {
				t.Fatal(err)
			}
			d := &Decoder{file: &File{Path: "app.yaml", Dir: "/"}}
			v := decodeTarget{Req: "preset"}
			if !tt.noReq {
				n.Content[0].Content = append(n.Content[0].Content,
					&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "req"},
					&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "r"})
			}
			err := Join(d.Decode(&n, &v))
			if got := errString(err); got != tt.wantErr {
				t.Errorf("error:\ngot  %s\nwant %s", got, tt.wantErr)
			}
			if tt.check != nil && !tt.check(v) {
				t.Errorf("decoded %+v", v)
			}
		})
	}
}

func TestUnmarshaler(t *testing.T) {
	var v struct {
		U  upper   `yaml:"u"`
		UP *upper  `yaml:"up"`
		UL []upper `yaml:"ul"`
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("{u: a, up: b, ul: [c, [d]]}"), &n); err != nil {
		t.Fatal(err)
	}
	d := &Decoder{file: &File{Path: "app.yaml"}, service: "svc"}
	err := d.Decode(&n, &v)
	if v.U != "A" || v.UP == nil || *v.UP != "B" || len(v.UL) != 2 || v.UL[0] != "C" {
		t.Errorf("decoded %+v", v)
	}
	if got, want := errString(err), `app.yaml:1:23: service "svc": want a scalar`; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
}

func TestServiceDecodeSkipsCommonKeys(t *testing.T) {
	data := "services:\n  - {name: a, type: echo, listen: 7, protocol: x}\n"
	f, err := Parse("app.yaml", ".", []byte(data), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var opts struct {
		Protocol string `yaml:"protocol"`
	}
	if err := f.Services[0].Decode(&opts); err != nil || opts.Protocol != "x" {
		t.Errorf("Decode: %+v, %v", opts, err)
	}
	// Pre-filled defaults survive keys the file does not set.
	def := pluginOptions{Index: []string{"index.html"}}
	if err := f.Services[0].Decode(&def); err != nil || !reflect.DeepEqual(def.Index, []string{"index.html"}) {
		t.Errorf("Decode with defaults: %+v, %v", def, err)
	}
	if err := f.Services[0].Decode(opts); err == nil {
		t.Error("Decode into a non-pointer succeeded")
	}
}

func TestDefaultNames(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    []string
		wantErr string
	}{
		{name: "unique types", yaml: "[{type: echo}, {type: web}]", want: []string{"echo", "web"}},
		{name: "named and unnamed", yaml: "[{type: echo, name: a}, {type: web}]", want: []string{"a", "web"}},
		{name: "type used twice", yaml: "[{type: echo}, {type: echo, name: b}]", want: []string{"", "b"},
			wantErr: `app.yaml:1:12: service "echo": service of type "echo" needs a name: more than one service has that type`},
		{name: "name taken", yaml: "[{type: web, name: echo}, {type: echo}]", want: []string{"echo", ""},
			wantErr: `app.yaml:1:37: service "echo": service of type "echo" needs a name: another service is named "echo"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("app.yaml", ".", []byte("services: "+tt.yaml), Options{})
			if got := errString(err); got != tt.wantErr {
				t.Errorf("error:\ngot  %s\nwant %s", got, tt.wantErr)
			}
			var names []string
			for _, s := range f.Services {
				names = append(names, s.Name)
			}
			if !reflect.DeepEqual(names, tt.want) {
				t.Errorf("names %q, want %q", names, tt.want)
			}
		})
	}
}

func TestSyntaxErrorAlone(t *testing.T) {
	f, err := Load("testdata/syntax_error.yaml", testOptions())
	if f != nil {
		t.Error("got a File with a syntax error")
	}
	errs := flatten(nil, err)
	if len(errs) != 1 {
		t.Fatalf("got %d errors, want the syntax error alone: %v", len(errs), err)
	}
	var ce *Error
	if !errors.As(errs[0], &ce) || ce.Pos.Line != 5 || !strings.Contains(ce.Msg, "syntax error") {
		t.Errorf("error = %#v", errs[0])
	}
}

func TestBombRejectedFast(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{name: "billion laughs", data: billionLaughs(12), want: "nodes once aliases are expanded"},
		{name: "deep", data: strings.Repeat("[", 5000) + strings.Repeat("]", 5000), want: "nests deeper than 64 levels"},
		{name: "deep by alias", data: "a: &a " + strings.Repeat("[", 50) + strings.Repeat("]", 50) +
			"\nb: &b " + strings.Repeat("[", 20) + "*a" + strings.Repeat("]", 20) + "\nservices: [*b]",
			want: "nests deeper than 64 levels once aliases are expanded"},
		{name: "cycle", data: "services: &s [{type: echo, x: *s}]", want: "alias *s refers to a node that contains it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			f, err := Parse("bomb.yaml", ".", []byte(tt.data), Options{})
			// Expanding 9^12 nodes would take hours: any bound in seconds
			// proves the expansion never happened, without timing the test.
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("took %v", elapsed)
			}
			if f != nil || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse = %v, %v; want an error containing %q", f, err, tt.want)
			}
			checkErrors(t, "bomb.yaml", err)
		})
	}
}

// billionLaughs returns the classic document with the given number of levels of nine.
func billionLaughs(levels int) string {
	var b strings.Builder
	b.WriteString("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < levels; i++ {
		p := "*l" + strconv.Itoa(i-1)
		b.WriteString("l" + strconv.Itoa(i) + ": &l" + strconv.Itoa(i) + " [" + strings.Repeat(p+", ", 8) + p + "]\n")
	}
	b.WriteString("services: [*l" + strconv.Itoa(levels-1) + "]\n")
	return b.String()
}

func TestTooLarge(t *testing.T) {
	data := []byte("services: [{type: echo}]\n" + strings.Repeat("#", maxFileSize))
	if _, err := Parse("big.yaml", ".", data, Options{}); err == nil || !strings.Contains(err.Error(), "larger than 4 MiB") {
		t.Errorf("Parse: %v", err)
	}
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, Options{}); err == nil || !strings.Contains(err.Error(), "larger than 4 MiB") {
		t.Errorf("Load: %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{name: "with service", err: &Error{Pos: Pos{File: "app.yaml", Line: 12, Col: 5}, Service: "site", Msg: `unknown key "pth"`},
			want: `app.yaml:12:5: service "site": unknown key "pth"`},
		{name: "without service", err: &Error{Pos: Pos{File: "app.yaml", Line: 3, Col: 1}, Msg: `unknown key "servces"`},
			want: `app.yaml:3:1: unknown key "servces"`},
		{name: "no column", err: &Error{Pos: Pos{File: "app.yaml", Line: 3}, Msg: "m"}, want: "app.yaml:3: m"},
		{name: "whole file", err: &Error{Pos: Pos{File: "app.yaml"}, Msg: "m"}, want: "app.yaml: m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestJoinSorts(t *testing.T) {
	at := func(line, col int) error { return &Error{Pos: Pos{File: "a", Line: line, Col: col}, Msg: "m"} }
	other := errors.New("other")
	err := Join(at(3, 1), errors.Join(at(1, 5), at(1, 2)), nil, other, at(1, 2))
	want := "other\na:1:2: m\na:1:5: m\na:3:1: m"
	if got := errString(err); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if Join(nil, errors.Join()) != nil {
		t.Error("Join of nothing is not nil")
	}
}

func TestServiceErrorf(t *testing.T) {
	f, err := Parse("app.yaml", ".", []byte("services:\n  - type: web\n    path: x\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := f.Services[0]
	if got, want := s.Errorf(nil, "bad %s", "thing").Error(), `app.yaml:2:5: service "web": bad thing`; got != want {
		t.Errorf("Errorf(nil) = %q, want %q", got, want)
	}
	if got, want := s.Errorf(s.Node.Content[3], "no").Error(), `app.yaml:3:11: service "web": no`; got != want {
		t.Errorf("Errorf(n) = %q, want %q", got, want)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestSyntaxErrorPosition checks that YAML syntax errors point at the
// offending line and column, not at the start of the enclosing node as
// yaml.v3 reports them.
func TestSyntaxErrorPosition(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{name: "tab in the indentation", src: "services:\n  - type: echo\n\tlisten: tcp:0\n",
			want: "app.yaml:3:1: syntax error: a tab character in the indentation"},
		{name: "tab after spaces", src: "services:\n  - type: echo\n    policies:\n      a: 1\n    \tb: 2\n",
			want: "app.yaml:5:5: syntax error: a tab character"},
		{name: "dedent between blocks", src: "services:\n  - type: echo\n    listen:\n      - tcp:0\n     - udp:0\n",
			want: "app.yaml:5:6: syntax error: bad indentation: column 6"},
		{name: "dedent onto no list", src: "services:\n  - type: echo\n    listen:\n      - tcp:0\n   - udp:0\n",
			want: "app.yaml:5:4: syntax error: bad indentation"},
		{name: "key at a list's column", src: "services:\n  - type: echo\n    listen: tcp:0\n  name: x\n",
			want: "app.yaml:4:3: syntax error: bad indentation"},
		{name: "list entry among keys", src: "services:\n  - type: echo\n    listen: tcp:0\n    - udp:0\n",
			want: "app.yaml:4:5: syntax error: bad indentation"},
		{name: "top-level dedent", src: "a: 1\nb:\n  c: 2\n d: 3\n",
			want: "app.yaml:4:2: syntax error: bad indentation"},
		{name: "block scalar content is not judged", src: "services:\n- type: echo\n  x: |\n     a\n    b\n  listen:\n   - tcp:0\n - udp:0\n",
			want: "app.yaml:8:2: syntax error: bad indentation"},
		{name: "unclosed flow list", src: "services:\n  - type: web\n    listen: [tcp:8080\n    path: public\n",
			want: "app.yaml:3:1: syntax error: did not find expected ',' or ']'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("app.yaml", t.TempDir(), []byte(tt.src), Options{})
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("got %v\nwant %s...", err, tt.want)
			}
		})
	}
	// Valid layouts the scan must not flag are covered by TestGolden's ok files.
}
