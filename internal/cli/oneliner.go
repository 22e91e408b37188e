package cli

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/twistd-go/twistd/internal/config"
	"github.com/twistd-go/twistd/internal/process"
	"github.com/twistd-go/twistd/internal/reactor"
	"github.com/twistd-go/twistd/plugin"
)

// argvAnnotation marks a one-liner whose first argument that is not a
// flag begins a command line of its own (twistd procmon sh -c ...).
const argvAnnotation = "twistd.argv"

// newPluginCommand makes a one-liner (twistd echo ...): its flags describe
// one application-file entry, which then runs exactly as a file would —
// reloads included: SIGHUP builds the entry anew, so its data files
// (zones, hosts, certificates, htpasswd) are re-read.
func newPluginCommand(v *viper.Viper, m plugin.Maker, logs *process.Opener) *cobra.Command {
	cmd := &cobra.Command{
		Use:   m.Name() + " [flags]",
		Short: m.Description(),
		Args:  cobra.NoArgs,
	}
	if a, ok := m.(plugin.ArgsTaker); ok {
		cmd.Use = m.Name() + " [flags] " + a.ArgsUsage()
		cmd.Args = cobra.ArbitraryArgs
		cmd.Annotations = map[string]string{argvAnnotation: "true"}
	}
	entry := m.Flags(cmd.Flags())
	if cmd.Flags().ShorthandLookup("h") != nil {
		// The plugin uses -h itself (portforward's host, as in twistd):
		// help is --help alone. Cobra would otherwise claim -h.
		cmd.Flags().Bool("help", false, "help for "+m.Name())
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if path, _ := configPath(v); path != "" {
			return withCode(exitUsage, fmt.Errorf("-c %s and the %s plugin are exclusive", path, m.Name()))
		}
		cwd, err := os.Getwd()
		if err != nil {
			return withCode(exitFailure, err)
		}
		load := func(chroot string) (*config.File, []reactor.Spec, error) {
			// Made anew on each reload: an entry from files (twistd
			// inetd --file) follows them.
			doc, err := oneLinerDoc(m.Name(), entry)
			if err != nil {
				return nil, nil, err
			}
			parsed, perr := config.Parse(commandLine, cwd, doc, optionsIn(chroot, logs))
			file, specs, err := buildServices(parsed, perr)
			if err != nil {
				return nil, nil, flagErrors(parsed, cmd.Flags(), keyFlags(m), err)
			}
			return file, specs, nil
		}
		file, specs, err := load("")
		if err != nil {
			return withCode(exitUsage, err)
		}
		return runApp(cmd, v, file, specs, load, logs)
	}
	return cmd
}

// oneLinerDoc is the application file a one-liner's flags describe: one
// service, or the several a maker gives under "services".
func oneLinerDoc(name string, entry func() (map[string]any, error)) ([]byte, error) {
	svc, err := entry()
	if err != nil {
		return nil, err
	}
	services := []any{svc}
	if list, ok := svc["services"].([]map[string]any); ok {
		services = services[:0]
		for _, e := range list {
			services = append(services, e)
		}
	}
	return yaml.Marshal(map[string]any{"name": name, "services": services})
}

// keyFlags is m's map of entry keys to the flags filling them, with the
// listen: key every one-liner fills from --listen or --port.
func keyFlags(m plugin.Maker) map[string][]string {
	keys := map[string][]string{"listen": {"listen", "port"}}
	if n, ok := m.(plugin.FlagNamer); ok {
		for k, v := range n.KeyFlags() {
			keys[k] = v
		}
	}
	return keys
}

// inEntry matches a position of the generated entry quoted inside a
// message ("conflicts with ... at command line:4:5").
var inEntry = regexp.MustCompile(` at ` + regexp.QuoteMeta(commandLine) + `:\d+:\d+`)

// flagErrors rewrites the errors about a one-liner's generated entry to
// name the flags that gave the bad values: `--path: no such directory
// "www"`, not a line and column of a file the user never wrote.
func flagErrors(file *config.File, fs *pflag.FlagSet, keys map[string][]string, err error) error {
	var leaves []error
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			if _, isCfg := e.(*config.Error); !isCfg {
				for _, x := range j.Unwrap() {
					walk(x)
				}
				return
			}
		}
		leaves = append(leaves, e)
	}
	walk(err)
	var out []error
	for _, e := range leaves {
		ce, ok := e.(*config.Error)
		if !ok || ce.Pos.File != commandLine {
			out = append(out, e)
			continue
		}
		msg := inEntry.ReplaceAllString(ce.Msg, "")
		var svc *config.Service
		if file != nil && len(file.Services) == 1 {
			svc = file.Services[0]
		}
		if flags := flagsOf(svc, fs, keys, ce.Pos); len(flags) > 0 {
			out = append(out, errors.New(strings.Join(flags, ", ")+": "+msg))
		} else {
			out = append(out, errors.New(msg))
		}
	}
	return errors.Join(out...)
}

// flagsOf names the flags (as --name) that filled the entry's key at pos;
// nil when pos is the entry as a whole or no flag is known for the key.
func flagsOf(svc *config.Service, fs *pflag.FlagSet, keys map[string][]string, pos config.Pos) []string {
	if svc == nil || svc.Node == nil || pos == svc.Pos {
		return nil
	}
	key := keyAt(svc.Node, pos.Line)
	if key == "" {
		return nil
	}
	var named, changed []string
	fs.VisitAll(func(f *pflag.Flag) {
		if slices.Contains(keys[key], f.Name) || keys[key] == nil && strings.ReplaceAll(f.Name, "-", "_") == key {
			named = append(named, "--"+f.Name)
			if f.Changed {
				changed = append(changed, "--"+f.Name)
			}
		}
	})
	if len(changed) > 0 {
		return changed
	}
	return named
}

// keyAt returns the key of mapping m whose entry spans line.
func keyAt(m *yaml.Node, line int) string {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Line <= line && line <= lastLine(v) {
			return k.Value
		}
	}
	return ""
}

func lastLine(n *yaml.Node) int {
	last := n.Line
	for _, c := range n.Content {
		last = max(last, lastLine(c))
	}
	return last
}
