package cli

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"
)

// topics are the texts of `twistd help TOPIC`, also the sections of the
// twistd.yaml(5) manual page.
//
//go:embed help/*.md
var topics embed.FS

// helpTopics are the topics `twistd help` knows besides the commands, in
// the order twistd.yaml(5) has them.
var helpTopics = []struct{ name, file, short string }{
	{"file", "file.md", "The application file: its keys, values and reloading (also man twistd.yaml)"},
	{"endpoints", "endpoints.md", "Endpoint strings: tcp:, udp:, unix:, ssl:, systemd:, haproxy:"},
	{"policies", "policies.md", "Connection policies and allow/deny rules of every service"},
}

func topicText(file string) string {
	b, err := topics.ReadFile("help/" + file)
	if err != nil {
		panic(err) // embedded: cannot happen
	}
	return string(b)
}

// newTopicCommands makes the help topics: commands without a Run, which
// cobra lists under "Additional help topics" and `twistd help NAME` prints.
func newTopicCommands() []*cobra.Command {
	var out []*cobra.Command
	for _, t := range helpTopics {
		out = append(out, &cobra.Command{Use: t.name, Short: t.short, Long: strings.TrimRight(topicText(t.file), "\n")})
	}
	return out
}

// newManCommand makes the hidden `twistd man DIR`: the manual pages,
// twistd(1), one for each command (twistd-web(1), ...) and twistd.yaml(5),
// generated from the commands themselves (make man, make release).
func newManCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "man DIR",
		Short:  "Write the manual pages into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return writeManPages(cmd.Root(), args[0])
		},
	}
}

func writeManPages(root *cobra.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b := readBuildInfo()
	when := time.Now().UTC()
	if t, err := time.Parse(time.RFC3339, b.Date); err == nil {
		when = t // reproducible: the build's date, not today's
	}
	source := "twistd " + b.Version
	header := &doc.GenManHeader{Section: "1", Date: &when, Source: source, Manual: "twistd manual"}
	root.DisableAutoGenTag = true
	if err := doc.GenManTree(root, header, dir); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	var md strings.Builder
	fmt.Fprintf(&md, "%% TWISTD.YAML 5 %q %q \"twistd manual\"\n\n", when.Format("Jan 2006"), source)
	md.WriteString("# NAME\n\ntwistd.yaml - the twistd application file\n\n")
	md.WriteString("# SYNOPSIS\n\n**twistd** [*global flags*] **-c** *app.yaml*\n\n**twistd check -c** *app.yaml*\n\n")
	for _, t := range helpTopics {
		text := topicText(t.file)
		// Each topic's title becomes a section; its ## headings subsections.
		text = strings.ReplaceAll(text, "\n## ", "\n### ")
		md.WriteString(strings.ToUpper(text[:strings.IndexByte(text, '\n')]) + text[strings.IndexByte(text, '\n'):] + "\n")
	}
	md.WriteString("# SEE ALSO\n\n**twistd**(1), **twistd-check**(1), **twistd-web**(1), **twistd-dns**(1), `twistd help file`\n")
	page := md2man.Render([]byte(md.String()))
	return os.WriteFile(filepath.Join(dir, "twistd.yaml.5"), page, 0o644)
}

// explainUsage rewrites cobra's terse command-line errors into advice: a
// flag given on the wrong side of the plugin's name says where it belongs
// and shows the corrected command; an unknown command suggests the
// nearest ones. Other errors are returned as they are.
func explainUsage(root *cobra.Command, args []string, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "unknown command "); ok {
		name = strings.Trim(strings.SplitN(name, " ", 2)[0], `"`)
		if root.SuggestionsMinimumDistance <= 0 {
			root.SuggestionsMinimumDistance = 2
		}
		if s := root.SuggestionsFor(name); len(s) > 0 {
			return withCode(exitUsage, fmt.Errorf("unknown command %q; did you mean %s?\nRun 'twistd --help' for the commands and 'twistd plugins' for the plugins", name, strings.Join(s, " or ")))
		}
		return withCode(exitUsage, fmt.Errorf("unknown command %q\nRun 'twistd --help' for the commands and 'twistd plugins' for the plugins", name))
	}
	if !strings.HasPrefix(msg, "unknown flag: ") && !strings.HasPrefix(msg, "unknown shorthand flag: ") {
		return err
	}
	fixed, notes := correctFlags(root, args)
	if len(notes) == 0 {
		return err
	}
	return withCode(exitUsage, fmt.Errorf("%s\n%s\ncorrected: twistd %s", msg, strings.Join(notes, "\n"), shellJoin(fixed)))
}

// correctFlags moves each flag that the side of the plugin's name it was
// given on does not know, but the other side does, to that other side.
// notes say what moved; none when nothing could be put right.
func correctFlags(root *cobra.Command, args []string) ([]string, []string) {
	global := root.Flags()
	at := -1
	var sub *cobra.Command
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			if c := findSub(root, a); c != nil {
				at, sub = i, c
				break
			}
			continue
		}
		if f := lookup(global, a); f != nil && takesValue(f, a) {
			i++ // its value
		}
	}
	if sub == nil {
		return nil, nil
	}
	local := sub.Flags()
	var before, after, moveUp, moveDown []string
	var notes []string
	walk := func(part []string, here, there *pflag.FlagSet, keep, move *[]string, whereNote string, argv bool) {
		for i := 0; i < len(part); i++ {
			a := part[i]
			if a == "--" || argv && !strings.HasPrefix(a, "-") {
				// The rest is a command line of its own (procmon's
				// sh -c ...): its flags are not ours.
				*keep = append(*keep, part[i:]...)
				return
			}
			if !strings.HasPrefix(a, "-") || a == "-" {
				*keep = append(*keep, a)
				continue
			}
			f := lookup(here, a)
			g := lookup(there, a)
			if f == nil && g != nil {
				tok := []string{a}
				if takesValue(g, a) && i+1 < len(part) {
					tok = append(tok, part[i+1])
					i++
				}
				*move = append(*move, tok...)
				notes = append(notes, fmt.Sprintf("%s %s", flagName(a), whereNote))
				continue
			}
			*keep = append(*keep, a)
			if f != nil && takesValue(f, a) && i+1 < len(part) {
				*keep = append(*keep, part[i+1])
				i++
			}
		}
	}
	walk(args[:at], global, local, &before, &moveDown,
		fmt.Sprintf("is a flag of %s: it goes after the plugin's name", sub.Name()), false)
	walk(args[at+1:], local, global, &after, &moveUp,
		fmt.Sprintf("is a global flag: it goes before the plugin's name (%s)", sub.Name()), sub.Annotations[argvAnnotation] != "")
	if len(notes) == 0 {
		return nil, nil
	}
	fixed := slices.Concat(before, moveUp, []string{args[at]}, moveDown, after)
	return fixed, notes
}

// findSub returns root's subcommand called name (or an alias of it).
func findSub(root *cobra.Command, name string) *cobra.Command {
	for _, c := range root.Commands() {
		if c.Name() == name || c.HasAlias(name) {
			return c
		}
	}
	return nil
}

// lookup finds the flag an argument (--name, --name=v, -x, -xVALUE) names.
func lookup(fs *pflag.FlagSet, arg string) *pflag.Flag {
	if name, ok := strings.CutPrefix(arg, "--"); ok {
		name, _, _ = strings.Cut(name, "=")
		if name == "help" {
			return nil
		}
		return fs.Lookup(name)
	}
	if len(arg) >= 2 {
		return fs.ShorthandLookup(arg[1:2])
	}
	return nil
}

// takesValue reports whether the flag arg names takes the next argument
// as its value.
func takesValue(f *pflag.Flag, arg string) bool {
	if f.NoOptDefVal != "" || strings.Contains(arg, "=") {
		return false
	}
	return strings.HasPrefix(arg, "--") || len(arg) == 2
}

func flagName(arg string) string {
	name, _, _ := strings.Cut(arg, "=")
	return name
}

// shellJoin quotes args for a shell where they need it.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`|&;<>()*?[]#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
