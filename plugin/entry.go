package plugin

import (
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/internal/config"
	"github.com/twistd-go/twistd/internal/pluginlink"
	"github.com/twistd-go/twistd/logfile"
	"github.com/twistd-go/twistd/policy"
)

func init() {
	pluginlink.Entry = func(s *config.Service) any { return newEntry(s) }
	config.SetForeignUnmarshal(func(d *config.Decoder, n *yaml.Node, p any) (bool, error) {
		u, ok := p.(Unmarshaler)
		if !ok {
			return false, nil
		}
		return true, u.UnmarshalConfig(&Decoder{d: d}, n)
	})
}

// Entry is one entry of the application file's services: (or the one a
// one-liner's flags describe), as its maker's New receives it. twistd has
// decoded the keys every service has — name, type, listen, on_failure,
// allow, deny — and checked them; the maker decodes the rest with Decode.
type Entry struct {
	// Name is the service's name (name:), Type its plugin's name (type:).
	Name, Type string
	// Listen are the entry's endpoints, in the order of its listen:, with
	// relative file paths (ssl: keys and certificates) resolved against
	// the file's directory.
	Listen []endpoint.Endpoint
	// Node is the entry's YAML mapping, for pointing an error at one of
	// its keys (see Value and Errorf).
	Node *yaml.Node
	// Pos is where the entry starts, as file:line:col.
	Pos string

	s *config.Service
}

func newEntry(s *config.Service) *Entry {
	return &Entry{Name: s.Name, Type: s.Type, Listen: s.Listen, Node: s.Node, Pos: s.Pos.String(), s: s}
}

// Decode strictly decodes the entry's own keys (every key but the common
// ones) into v, a pointer to a struct with yaml tags (`yaml:"key"`,
// `yaml:"key,required"`, `yaml:",inline"`). An unknown key (with the
// closest known one suggested), a value of the wrong type, a bad value of
// one of this package's types (a missing file for a FilePath, a bad rate)
// and a missing required key are each an error naming file:line:col and
// the service; all of them come back at once, joined.
//
// Fields keep the values they hold where the file says nothing (or
// null), so v may be pre-filled with defaults. Field types may be bools,
// numbers, strings, time.Duration ("30s"), slices, maps, pointers, structs,
// this package's Size, Rate, Path, FilePath, DirPath, Prefixes and Policies, and any
// type implementing Unmarshaler.
func (e *Entry) Decode(v any) error { return e.s.Decode(v) }

// Value returns the value node of key in the entry, or nil when the entry
// does not have it: for pointing an error at a key with Errorf.
func (e *Entry) Value(key string) *yaml.Node { return e.s.Value(key) }

// Errorf returns an error naming file:line:col of n (the entry itself
// when n is nil) and the service, for what Decode cannot check: a value
// that is wrong together with another, a file that does not parse.
func (e *Entry) Errorf(n *yaml.Node, format string, args ...any) error {
	return e.s.Errorf(n, format, args...)
}

// OpenLog opens one of the service's own log files (an access log) for
// appending, as logfile.Open does, so that it is reopened on SIGUSR1
// even after twistd switched users or went into a chroot: the file is
// then opened by the root opener twistd keeps for the files named before
// the switch. Open it from the maker's New.
func (e *Entry) OpenLog(path string) (*logfile.File, error) { return e.OpenLogMode(path, 0o644) }

// OpenLogMode opens a log file as OpenLog does; a file it creates gets
// mode (0640 for a log of users or destinations, not for all to read).
func (e *Entry) OpenLogMode(path string, mode os.FileMode) (*logfile.File, error) {
	o := e.s.LogOpener()
	if o == nil || path == "-" {
		return logfile.OpenWithMode(path, nil, mode)
	}
	if abs, err := filepath.Abs(path); err == nil {
		_ = o.Allow(abs) // refused once the opener is sealed: then opened as the user
	}
	return logfile.OpenWithMode(path, o, mode)
}

// Dir returns the directory relative paths in the entry are resolved
// against: the application file's (the working directory for a one-liner).
func (e *Entry) Dir() string { return e.s.Dir() }

// Access returns the entry's allow: and deny: rules, which the reactor
// enforces on every listener of the service before the service sees a
// peer; nil when the entry has none (every peer admitted). A service
// that learns of peers some other way (a PROXY header, a protocol's own
// forwarding) checks them with it.
func Access(e *Entry) *policy.Access { return policy.NewAccess(e.s.Allow, e.s.Deny) }

// Join merges errors from Decode, Errorf and a maker's other checks into
// one: nils and exact duplicates dropped, positioned errors sorted by
// file, line and column after any others. It returns nil when there is
// nothing to report.
func Join(errs ...error) error { return config.Join(errs...) }

// ParseEntries reads the services: of an application file held in
// memory, as twistd's loader does, without building them: for testing a
// maker (pass each entry to its New). path names the file in messages;
// relative paths are resolved against dir. Any type: is accepted.
func ParseEntries(path, dir string, doc []byte) ([]*Entry, error) {
	f, err := config.Parse(path, dir, doc, config.Options{})
	if f == nil {
		return nil, err
	}
	out := make([]*Entry, len(f.Services))
	for i, s := range f.Services {
		out[i] = newEntry(s)
	}
	return out, err
}

// Decoder decodes parts of an entry for an Unmarshaler: it reports
// errors at their file:line:col and resolves paths against Dir.
type Decoder struct{ d *config.Decoder }

// Decode strictly decodes n into v, as Entry.Decode does.
func (d *Decoder) Decode(n *yaml.Node, v any) error { return d.d.Decode(n, v) }

// Errorf returns an error naming file:line:col of n and the service.
func (d *Decoder) Errorf(n *yaml.Node, format string, args ...any) error {
	return d.d.Errorf(n, format, args...)
}

// Dir returns the directory relative paths are resolved against.
func (d *Decoder) Dir() string { return d.d.Dir() }

// Unmarshaler is implemented by option types that decode themselves
// (a value with a syntax of its own, a block checked as a whole).
type Unmarshaler interface {
	UnmarshalConfig(d *Decoder, n *yaml.Node) error
}

// Size is a byte count written with an optional unit: 512, 64KiB, 1MB,
// 2GiB, 1.5MiB. KB, MB, GB are powers of 1000; KiB, MiB, GiB and the bare
// K, M, G (as in nginx) powers of 1024; units are case-insensitive.
type Size int64

// UnmarshalConfig decodes a size.
func (s *Size) UnmarshalConfig(d *Decoder, n *yaml.Node) error {
	var c config.Size
	err := c.UnmarshalConfig(d.d, n)
	*s = Size(c)
	return err
}

// String writes the size with the largest binary unit that divides it.
func (s Size) String() string { return config.Size(s).String() }

// Rate is a number of events per period, written N/s, N/m or N/h (a bare
// number is per second; 0 is none): 10/s, 100/m, 0.5/s.
type Rate struct {
	N   float64
	Per time.Duration
}

// UnmarshalConfig decodes a rate.
func (r *Rate) UnmarshalConfig(d *Decoder, n *yaml.Node) error {
	var c config.Rate
	err := c.UnmarshalConfig(d.d, n)
	*r = Rate{N: c.N, Per: c.Per}
	return err
}

// Path is a file system path resolved against the entry's directory. "~"
// is not expanded; "-" (standard output, by twistd's convention) is kept.
type Path string

// UnmarshalConfig decodes and resolves a path.
func (p *Path) UnmarshalConfig(d *Decoder, n *yaml.Node) error {
	var c config.Path
	err := c.UnmarshalConfig(d.d, n)
	*p = Path(c)
	return err
}

// FilePath is a Path that must name an existing regular file.
type FilePath string

// UnmarshalConfig decodes and resolves a path and checks it is a file.
func (p *FilePath) UnmarshalConfig(d *Decoder, n *yaml.Node) error {
	var c config.FilePath
	err := c.UnmarshalConfig(d.d, n)
	*p = FilePath(c)
	return err
}

// DirPath is a Path that must name an existing directory.
type DirPath string

// UnmarshalConfig decodes and resolves a path and checks it is a directory.
func (p *DirPath) UnmarshalConfig(d *Decoder, n *yaml.Node) error {
	var c config.DirPath
	err := c.UnmarshalConfig(d.d, n)
	*p = DirPath(c)
	return err
}

// Prefixes is a list of address rules written as allow: and deny: are:
// CIDR prefixes or bare addresses (one address: /32 or /128), one string
// or a list, each as endpoint.ParsePrefix returns it (IPv4-mapped IPv6
// prefixes become IPv4), duplicates dropped. A plugin with rules of its
// own (which destinations a proxy may reach) decodes them with it; every
// bad item is reported at its file:line:col.
type Prefixes []netip.Prefix

// UnmarshalConfig decodes one rule or a list of them.
func (p *Prefixes) UnmarshalConfig(d *Decoder, n *yaml.Node) error {
	var c config.Prefixes
	err := c.UnmarshalConfig(d.d, n)
	*p = Prefixes(c)
	return err
}

// Policies is a stream service's policies: block as the file writes it
// (the same keys for every plugin that has one); Config turns it into
// what package policy enforces. The zero value sets none.
type Policies struct {
	// IdleTimeout closes a connection idle (nothing read or written) this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxConnections refuses connections beyond this many open; 0 means the default.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerPeer refuses a peer's connections beyond this many; 0 = unlimited.
	MaxConnectionsPerPeer int `yaml:"max_connections_per_peer"`
	// MaxConnectionRatePerPeer refuses a peer's connections beyond this
	// rate (xinetd's cps), such as 10/s; zero = unlimited.
	MaxConnectionRatePerPeer Rate `yaml:"max_connection_rate_per_peer"`
	// ReadLimit and WriteLimit are bytes per second for the whole service; 0 = off.
	ReadLimit  Size `yaml:"read_limit"`
	WriteLimit Size `yaml:"write_limit"`
	// TrafficLog names a file getting one line per closed connection.
	TrafficLog Path `yaml:"traffic_log"`
}

// UnmarshalConfig decodes a policies: block strictly and checks its
// values, each problem reported at its key.
func (p *Policies) UnmarshalConfig(d *Decoder, n *yaml.Node) error {
	var c config.Policies
	err := c.UnmarshalConfig(d.d, n)
	*p = Policies{
		IdleTimeout:              c.IdleTimeout,
		MaxConnections:           c.MaxConnections,
		MaxConnectionsPerPeer:    c.MaxConnectionsPerPeer,
		MaxConnectionRatePerPeer: Rate{N: c.MaxConnectionRatePerPeer.N, Per: c.MaxConnectionRatePerPeer.Per},
		ReadLimit:                Size(c.ReadLimit),
		WriteLimit:               Size(c.WriteLimit),
		TrafficLog:               Path(c.TrafficLog),
	}
	return err
}

// Config returns what package policy enforces for p: wrap a factory with
// policy.New(p.Config(), ...), or set service.Protocols' Policies.
func (p Policies) Config() policy.Config {
	return policy.Config{
		IdleTimeout:              p.IdleTimeout,
		MaxConnections:           p.MaxConnections,
		MaxConnectionsPerPeer:    p.MaxConnectionsPerPeer,
		MaxConnectionRatePerPeer: policy.Rate{N: p.MaxConnectionRatePerPeer.N, Per: p.MaxConnectionRatePerPeer.Per},
		ReadLimit:                int64(p.ReadLimit),
		WriteLimit:               int64(p.WriteLimit),
		TrafficLog:               string(p.TrafficLog),
	}
}

var (
	_ Unmarshaler = (*Size)(nil)
	_ Unmarshaler = (*Rate)(nil)
	_ Unmarshaler = (*Path)(nil)
	_ Unmarshaler = (*FilePath)(nil)
	_ Unmarshaler = (*DirPath)(nil)
	_ Unmarshaler = (*Prefixes)(nil)
	_ Unmarshaler = (*Policies)(nil)
)

// ParseSize parses a Size as the file writes it (a flag's value, say).
func ParseSize(s string) (Size, error) {
	c, err := config.ParseSize(s)
	return Size(c), err
}

// ParseRate parses a Rate as the file writes it (a flag's value, say).
func ParseRate(s string) (Rate, error) {
	c, err := config.ParseRate(s)
	return Rate{N: c.N, Per: c.Per}, err
}
