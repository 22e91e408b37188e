// The procmon plugin supervises long-running processes, as Twisted's procmon:
// a process that dies is started again, after a delay that doubles from
// min_restart_delay up to max_restart_delay while it keeps dying within
// threshold of its start, and is back to the minimum once it stays up;
// its stdout and stderr lines are log lines tagged [service/name]; a stop
// sends TERM, and KILL after kill_time. It lives in this package, beside
// exec, because it runs programs with the same helpers (identity, PATH,
// process group, output lines) and a plugin imports no other plugin.

package exec

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/service"
)

func init() { plugin.Register(procmonMaker{}) }

// Twisted's procmon defaults.
const (
	DefaultThreshold       = time.Second
	DefaultKillTime        = 5 * time.Second
	DefaultMinRestartDelay = time.Second
	DefaultMaxRestartDelay = time.Hour
)

// ProcmonOptions are the keys of a procmon entry beyond name and type (it has
// no listen:).
type ProcmonOptions struct {
	Processes       []ProcessOptions `yaml:"processes,required"`
	Threshold       time.Duration    `yaml:"threshold"`
	KillTime        time.Duration    `yaml:"kill_time"`
	MinRestartDelay time.Duration    `yaml:"min_restart_delay"`
	MaxRestartDelay time.Duration    `yaml:"max_restart_delay"`
}

// ProcessOptions describe one supervised process.
type ProcessOptions struct {
	Name    string            `yaml:"name,required"`
	Command []string          `yaml:"command,required"`
	Env     map[string]string `yaml:"env"`
	Cwd     plugin.DirPath    `yaml:"cwd"`
	User    string            `yaml:"user"`
	Group   string            `yaml:"group"`
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

type procmonMaker struct{}

func (procmonMaker) Name() string { return "procmon" }
func (procmonMaker) Description() string {
	return "supervise processes: restart with backoff, log their output, TERM then KILL on stop (Twisted's procmon)"
}

// Listenless implements plugin.Listenless: a procmon binds nothing.
func (procmonMaker) Listenless() {}

func (procmonMaker) New(s *plugin.Entry) (service.Service, error) {
	opts := ProcmonOptions{Threshold: DefaultThreshold, KillTime: DefaultKillTime,
		MinRestartDelay: DefaultMinRestartDelay, MaxRestartDelay: DefaultMaxRestartDelay}
	errs := []error{s.Decode(&opts)}
	if s.Value("listen") != nil {
		errs = append(errs, s.Errorf(s.Value("listen"), "listen: a procmon service supervises processes and listens nowhere"))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"threshold", opts.Threshold}, {"kill_time", opts.KillTime}, {"min_restart_delay", opts.MinRestartDelay}, {"max_restart_delay", opts.MaxRestartDelay}} {
		if d.v <= 0 {
			errs = append(errs, s.Errorf(s.Value(d.key), "%s must be positive", d.key))
		}
	}
	if opts.MinRestartDelay > 0 && opts.MaxRestartDelay > 0 && opts.MaxRestartDelay < opts.MinRestartDelay {
		errs = append(errs, s.Errorf(s.Value("max_restart_delay"), "max_restart_delay %s is below min_restart_delay %s", opts.MaxRestartDelay, opts.MinRestartDelay))
	}
	list := s.Value("processes")
	if list != nil && list.Kind == yaml.SequenceNode && len(list.Content) == 0 {
		errs = append(errs, s.Errorf(list, "processes: give at least one process"))
	}
	seen := map[string]bool{}
	var procs []process
	for i, po := range opts.Processes {
		var at *yaml.Node
		if list != nil && i < len(list.Content) {
			at = list.Content[i]
		}
		key := func(k string) *yaml.Node {
			if n := valueIn(at, k); n != nil {
				return n
			}
			return at
		}
		if po.Name != "" && !validName.MatchString(po.Name) {
			errs = append(errs, s.Errorf(key("name"), "name %q: want letters, digits, '.', '_' and '-'", po.Name))
		}
		if seen[po.Name] {
			errs = append(errs, s.Errorf(key("name"), "name %q: two processes of that name", po.Name))
		}
		seen[po.Name] = true
		p := process{name: po.Name, args: po.Command, env: po.Env, dir: string(po.Cwd), as: Identity{User: po.User, Group: po.Group}}
		if len(po.Command) == 0 {
			if valueIn(at, "command") != nil {
				errs = append(errs, s.Errorf(key("command"), "command: give the program and its arguments"))
			}
		} else if path, err := ResolveProgram(po.Command[0], s.Dir(), PathOf(po.Env)); err != nil {
			n := key("command")
			if len(n.Content) > 0 {
				n = n.Content[0]
			}
			errs = append(errs, s.Errorf(n, "command: %v", err))
		} else {
			p.path = path
		}
		if _, err := p.as.Credential(); err != nil {
			k := "user"
			if po.User == "" || strings.Contains(err.Error(), "group") {
				k = "group"
			}
			errs = append(errs, s.Errorf(key(k), "%v", err))
		}
		b, _ := json.Marshal([]any{p.path, p.args, p.env, p.dir, p.as})
		p.fingerprint = string(b)
		procs = append(procs, p)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return newMonitor(settings{threshold: opts.Threshold, killTime: opts.KillTime,
		minDelay: opts.MinRestartDelay, maxDelay: opts.MaxRestartDelay}, procs), nil
}

// valueIn is key's value in mapping n (nil when absent).
func valueIn(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// ArgsUsage implements plugin.ArgsTaker.
func (procmonMaker) ArgsUsage() string { return "-- COMMAND [ARGS...]" }

// Flags registers Twisted's procmon flags, in seconds, with Twisted's
// short names: -t/--threshold, -k/--killtime, -m/--minrestartdelay,
// -M/--maxrestartdelay; and the process keys of the file type: --name,
// --cwd, --env NAME=VALUE (repeatable), --user, --group. The command to
// supervise follows them (after "--", or, as Twisted's, without).
func (procmonMaker) Flags(fs *pflag.FlagSet) func() (map[string]any, error) {
	threshold := fs.Float64P("threshold", "t", DefaultThreshold.Seconds(), "seconds a process must stay up to count as started (its restart delay then resets)")
	killTime := fs.Float64P("killtime", "k", DefaultKillTime.Seconds(), "seconds between TERM and KILL when stopping a process")
	minDelay := fs.Float64P("minrestartdelay", "m", DefaultMinRestartDelay.Seconds(), "seconds before the first restart of a process that died young")
	maxDelay := fs.Float64P("maxrestartdelay", "M", DefaultMaxRestartDelay.Seconds(), "most seconds between restarts")
	name := fs.String("name", "", "the process's name in logs and /status (default: the command's base name)")
	cwd := fs.String("cwd", "", "the process's working directory (default: twistd's)")
	env := fs.StringArray("env", nil, "NAME=VALUE in the process's environment (repeatable)")
	user := fs.String("user", "", "user the process runs as, when twistd is root")
	group := fs.String("group", "", "group the process runs as, when twistd is root (default: the user's)")
	fs.SetInterspersed(false)
	return func() (map[string]any, error) {
		args := fs.Args()
		if len(args) == 0 {
			return nil, fmt.Errorf("give the command to supervise: twistd procmon [flags] -- COMMAND [ARGS...]")
		}
		proc := map[string]any{"command": args}
		if *cwd != "" {
			if fi, err := os.Stat(*cwd); err != nil || !fi.IsDir() {
				return nil, fmt.Errorf("--cwd %s: no such directory", *cwd)
			}
			proc["cwd"] = *cwd
		}
		if len(*env) > 0 {
			vars := map[string]string{}
			for _, kv := range *env {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" || strings.ContainsAny(k, "\x00") {
					return nil, fmt.Errorf("--env %s: want NAME=VALUE", kv)
				}
				vars[k] = v
			}
			proc["env"] = vars
		}
		if *user != "" || *group != "" {
			if _, err := (Identity{User: *user, Group: *group}).Credential(); err != nil {
				flag := "--user " + *user
				if *user == "" || strings.Contains(err.Error(), "group") {
					flag = "--group " + *group
				}
				return nil, fmt.Errorf("%s: %w", flag, err)
			}
			if *user != "" {
				proc["user"] = *user
			}
			if *group != "" {
				proc["group"] = *group
			}
		}
		e := map[string]any{"type": "procmon"}
		for _, f := range []struct {
			flag, key string
			v         float64
		}{{"threshold", "threshold", *threshold}, {"killtime", "kill_time", *killTime},
			{"minrestartdelay", "min_restart_delay", *minDelay}, {"maxrestartdelay", "max_restart_delay", *maxDelay}} {
			if f.v <= 0 || f.v > 1e9 {
				return nil, fmt.Errorf("--%s %s: want a positive number of seconds", f.flag, strconv.FormatFloat(f.v, 'g', -1, 64))
			}
			e[f.key] = time.Duration(f.v * float64(time.Second)).String()
		}
		n := *name
		if n == "" {
			n = baseName(args[0])
		}
		proc["name"] = n
		e["processes"] = []map[string]any{proc}
		return e, nil
	}
}

// baseName makes a command a process name.
func baseName(cmd string) string {
	var b strings.Builder
	for _, c := range filepath.Base(cmd) {
		if c < 0x80 && (c == '.' || c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			b.WriteRune(c)
		}
	}
	s := strings.TrimLeft(b.String(), "._-")
	if s == "" {
		return "process"
	}
	return s
}

// KeyFlags names the one-liner's flags behind the entry's keys.
func (procmonMaker) KeyFlags() map[string][]string {
	return map[string][]string{"kill_time": {"killtime"}, "min_restart_delay": {"minrestartdelay"},
		"max_restart_delay": {"maxrestartdelay"}, "processes": {"name", "cwd", "env", "user", "group"}}
}

var (
	_ plugin.ArgsTaker  = procmonMaker{}
	_ plugin.Listenless = procmonMaker{}
	_ plugin.FlagNamer  = procmonMaker{}
)
