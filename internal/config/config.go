// Package config loads twistd application files: strict YAML decoding with
// every error reported at once as file:line:col.
package config

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/twistd-go/twistd/endpoint"
)

// File is a loaded application file.
type File struct {
	// Path is the file as the user named it (used in messages); Dir is the
	// absolute directory that relative paths inside the file are resolved against.
	Path string
	Dir  string
	// Name is the application's name: the name: key, else the file's base name without extension.
	Name     string
	Process  Process
	Admin    *Admin // nil when the file has no admin: section
	Services []*Service

	// Paths are the files and directories the services name (their
	// paths and endpoints' key files), resolved as on the host, in the
	// order they were decoded: what OutsideChroot looks at.
	Paths []PathUse

	// bad holds the nodes whose ${VAR} substitution failed: the error is
	// already reported, so decoders skip them silently.
	bad map[*yaml.Node]bool
	// root is Options.Chroot.
	root string
	// logs is Options.LogOpener.
	logs LogOpener
}

// PathUse is one path a service names, where it is written.
type PathUse struct {
	Pos     Pos
	Service string
	Path    string
	// Read is set for a file the service reads its data from (a zone,
	// hosts file, htpasswd, TLS key or certificate), as against a file it
	// writes (a log) or a directory it serves: what --watch watches.
	Read bool
}

// Process holds the file's process: section: global flags in snake_case.
// A nil field was not set in the file. Paths are already absolute (except
// "-" for logfile and "" for pidfile, kept as written).
type Process struct {
	Nodaemon        *bool          `yaml:"nodaemon"`
	Logfile         *string        `yaml:"logfile"`
	Pidfile         *string        `yaml:"pidfile"`
	Rundir          *string        `yaml:"rundir"`
	UID             *string        `yaml:"uid"`
	GID             *string        `yaml:"gid"`
	Umask           *string        `yaml:"umask"` // octal digits, validated
	Chroot          *string        `yaml:"chroot"`
	Syslog          *bool          `yaml:"syslog"`
	Prefix          *string        `yaml:"prefix"`
	LogFormat       *string        `yaml:"log_format"` // console | json, validated
	LogLevel        *string        `yaml:"log_level"`  // debug | info | warn | error, validated
	ShutdownTimeout *time.Duration `yaml:"shutdown_timeout"`
	ShutdownDelay   *time.Duration `yaml:"shutdown_delay"`
	LogMaxSize      *Size          `yaml:"log_max_size"`
	LogMaxBackups   *int           `yaml:"log_max_backups"`
	Reactor         *string        `yaml:"reactor"` // checked by Options.CheckReactor
	Watch           *bool          `yaml:"watch"`   // reload when the file or its data files change
}

// Settings returns the fields that were set, keyed by the global flag's
// name ("log-format", "shutdown-timeout", ...), ready for viper.MergeConfigMap.
// Durations are strings ("30s"), sizes are whole MiB as int, the rest as decoded.
func (p Process) Settings() map[string]any {
	m := make(map[string]any)
	setBool := func(key string, v *bool) {
		if v != nil {
			m[key] = *v
		}
	}
	setString := func(key string, v *string) {
		if v != nil {
			m[key] = *v
		}
	}
	setDuration := func(key string, v *time.Duration) {
		if v != nil {
			m[key] = v.String()
		}
	}
	setBool("nodaemon", p.Nodaemon)
	setString("logfile", p.Logfile)
	setString("pidfile", p.Pidfile)
	setString("rundir", p.Rundir)
	setString("uid", p.UID)
	setString("gid", p.GID)
	setString("umask", p.Umask)
	setString("chroot", p.Chroot)
	setBool("syslog", p.Syslog)
	setString("prefix", p.Prefix)
	setString("log-format", p.LogFormat)
	setString("log-level", p.LogLevel)
	setDuration("shutdown-timeout", p.ShutdownTimeout)
	setDuration("shutdown-delay", p.ShutdownDelay)
	setString("reactor", p.Reactor)
	setBool("watch", p.Watch)
	if p.LogMaxSize != nil {
		m["log-max-size"] = p.LogMaxSize.mib()
	}
	if p.LogMaxBackups != nil {
		m["log-max-backups"] = *p.LogMaxBackups
	}
	return m
}

// Admin is the file's admin: section.
type Admin struct {
	Listen Listen `yaml:"listen"`
	Pprof  bool   `yaml:"pprof"`
}

// Service is one entry of services:. The loader decodes the keys common to
// every service (name, type, listen, on_failure, allow, deny); the plugin
// named by Type decodes the rest of Node with Decode.
type Service struct {
	Name   string
	Type   string
	Listen Listen
	// OnFailure is what a failure after start does: OnFailureRestart
	// (the default) or OnFailureExit.
	OnFailure string
	// Allow and Deny are the source-address rules (allow:, deny:): a peer
	// in Deny is refused; if Allow is not empty, only peers in it are
	// admitted. The reactor enforces them at accept, for every service.
	Allow, Deny Prefixes
	// Node is the entry's mapping node; Pos is where the entry starts.
	Node *yaml.Node
	Pos  Pos

	file *File
}

// The values of a service's on_failure: key. Restart is the default, as
// suture restarts a failed service and systemd users set Restart=on-failure.
const (
	OnFailureRestart = "restart" // restart with backoff (1s doubling to 30s)
	OnFailureExit    = "exit"    // stop the process, which exits 1
)

// Decode strictly decodes the service's own keys (every key but name, type,
// listen, on_failure, allow and deny) into v, a pointer to a struct with yaml tags. Unknown keys,
// wrong types, bad values and missing files are each an *Error; all of them
// are returned at once, joined with errors.Join.
//
// Fields keep the values they hold where the file says nothing (or null),
// so v may be pre-filled with defaults.
func (s *Service) Decode(v any) error {
	d := s.decoder()
	d.skipNode = s.Node
	return d.Decode(s.Node, v)
}

// Value returns the value node of key in the entry, or nil when the entry
// does not have it: for pointing an error at a key.
func (s *Service) Value(key string) *yaml.Node {
	if s.Node == nil || s.Node.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(s.Node.Content); i += 2 {
		if s.Node.Content[i].Value == key {
			return s.Node.Content[i+1]
		}
	}
	return nil
}

// Errorf returns an *Error for this service at the given node (the entry itself when n is nil).
func (s *Service) Errorf(n *yaml.Node, format string, args ...any) error {
	if n == nil {
		return &Error{Pos: s.Pos, Service: s.label(), Msg: fmt.Sprintf(format, args...)}
	}
	return s.decoder().Errorf(n, format, args...)
}

// Dir returns the directory relative paths in the service's keys are resolved against.
func (s *Service) Dir() string { return s.decoder().Dir() }

// label names the service in errors: its name, else its type.
func (s *Service) label() string {
	if s.Name != "" {
		return s.Name
	}
	return s.Type
}

func (s *Service) decoder() *Decoder {
	return &Decoder{file: s.file, service: s.label(), node: s.Node}
}

// Pos is a position in an application file.
type Pos struct {
	File      string
	Line, Col int
}

// String formats the position as file:line:col.
// Without a line (an error about the whole file) it is just the file.
func (p Pos) String() string {
	switch {
	case p.Line <= 0:
		return p.File
	case p.Col <= 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	default:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	}
}

// Error is one problem in an application file. Error() reads
// `app.yaml:12:5: service "site": unknown key "pth"` (the service part only
// when one is concerned).
type Error struct {
	Pos     Pos
	Service string
	Msg     string
}

func (e *Error) Error() string {
	var b strings.Builder
	if pos := e.Pos.String(); pos != "" {
		b.WriteString(pos)
		b.WriteString(": ")
	}
	if e.Service != "" {
		fmt.Fprintf(&b, "service %q: ", e.Service)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Options tunes Load.
type Options struct {
	// KnownType reports whether a service type: is registered; nil accepts any.
	KnownType func(typ string) bool
	// CheckReactor reports why process: reactor: names no reactor of this
	// build; nil accepts any.
	CheckReactor func(name string) error
	// LookupEnv resolves ${VAR}; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Chroot is the directory this process is chrooted into ("" for
	// none), for a reload after --chroot. The file and the paths in it are
	// still named and resolved as on the host, and reported so; they are
	// read, checked and given to services at their place inside the jail
	// (the host path less the jail's own), and one outside the jail is an
	// error, since nothing there can be reached. Load's path must then be
	// absolute.
	Chroot string
	// LogOpener, if set, is what services open their own log files
	// through (Service.LogOpener): the root opener that keeps reopening
	// them after the switch of user and the chroot.
	LogOpener LogOpener
}

// LogOpener opens log files for appending in the process's place, once
// told of them (see process.Opener).
type LogOpener interface {
	OpenAppend(path string) (*os.File, error)
	Allow(paths ...string) error
}

// LogOpener is what the service opens its own log files through (an
// access log); nil for plain opens.
func (s *Service) LogOpener() LogOpener { return s.file.logs }

// Load reads and checks an application file. On a YAML syntax error it
// returns only that error. Otherwise it returns the File (with every
// service entry that could be read) and all problems found, joined; callers
// may go on to let plugins decode the services to report their errors too
// (Join sorts the lot by position).
//
// Files larger than 4 MiB, documents nested deeper than 64 levels and
// documents whose aliases expand to more than 100,000 nodes are rejected
// before anything is decoded; those errors, like I/O errors, come alone
// and with a nil File.
func Load(path string, opts Options) (*File, error) {
	at := path
	if opts.Chroot != "" {
		if !filepath.IsAbs(path) {
			return nil, fmt.Errorf("%s: inside the chroot %s, the application file's path must be absolute", path, opts.Chroot)
		}
		var err error
		if at, err = InChroot(opts.Chroot, path); err != nil {
			return nil, fmt.Errorf("application file %w: a reload cannot read it", err)
		}
	}
	data, err := readFile(at)
	if err != nil {
		return nil, err
	}
	return Parse(path, filepath.Dir(path), data, opts)
}

// inRoot returns where a process chrooted into root finds the host path
// p (absolute and clean): p less root, or an error when p lies outside.
// An empty root, and "-" (standard output), give p.
func InChroot(root, p string) (string, error) {
	if root == "" || p == "-" {
		return p, nil
	}
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s lies outside the chroot %s", p, root)
	}
	return filepath.Join(string(filepath.Separator), rel), nil
}

// OutsideChroot returns a warning for each path the services name that
// lies outside the jail dir (a --chroot): twistd opens such a file at
// start, before the chroot, but no reload can read it again. An empty dir
// gives none.
func (f *File) OutsideChroot(dir string) []*Error {
	if dir == "" {
		return nil
	}
	var out []*Error
	for _, u := range f.Paths {
		if _, err := InChroot(dir, u.Path); err != nil {
			out = append(out, &Error{Pos: u.Pos, Service: u.Service,
				Msg: err.Error() + ": it is read at start, before the chroot, but no reload can read it"})
		}
	}
	return out
}

// readFile reads path, refusing files over maxFileSize without reading them whole.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, errTooLarge(path)
	}
	return data, nil
}

// Listen is a list of endpoints as written in a file: one string, a list of
// strings, or a bare port number (the "8080" shorthand). Relative file paths
// inside endpoints are resolved against the file's directory, and the files
// an endpoint reads (ssl key and certificate) must exist.
type Listen []endpoint.Endpoint

// Size is a byte count written with an optional unit: 512, 64KiB, 1MB,
// 2GiB, 1.5MiB. KB, MB, GB are powers of 1000; KiB, MiB, GiB and the bare
// K, M, G (as in nginx) powers of 1024; units are case-insensitive. See ParseSize.
type Size int64

// Path is a file system path resolved against the file's directory. "~"
// is not expanded; "-" (standard output, by twistd's convention) is kept.
type Path string

// FilePath is a Path that must name an existing regular file.
type FilePath string

// DirPath is a Path that must name an existing directory.
type DirPath string

// ForeignUnmarshal decodes n into p, a pointer to a value of a type
// defined outside this package that decodes itself, and reports whether
// it did (false: p's type is not one of those).
type ForeignUnmarshal func(d *Decoder, n *yaml.Node, p any) (ok bool, err error)

// foreign is the public plugin package's unmarshal hook: its value types
// (and its users' own) decode themselves through a public wrapper of
// Decoder, which this package cannot name.
var foreign atomic.Pointer[ForeignUnmarshal]

// SetForeignUnmarshal installs the hook for types that decode themselves
// through an interface this package cannot import (package plugin's
// Unmarshaler). It is called once, from that package's init.
func SetForeignUnmarshal(f ForeignUnmarshal) { foreign.Store(&f) }

// Unmarshaler is implemented by types that decode themselves from a node
// with access to the decoder (for the file's directory and error reporting).
type Unmarshaler interface {
	UnmarshalConfig(d *Decoder, n *yaml.Node) error
}
