package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/twistd-go/twistd/endpoint"
)

// UnmarshalConfig decodes one endpoint string, a bare port number, or a
// list of those. Each endpoint's relative paths are resolved against the
// file's directory and the files it reads must exist; a list may not name
// the same endpoint twice. An empty list gives an empty Listen.
func (l *Listen) UnmarshalConfig(d *Decoder, n *yaml.Node) error {
	var items []*yaml.Node
	switch n.Kind {
	case yaml.ScalarNode:
		items = []*yaml.Node{n}
	case yaml.SequenceNode:
		items = n.Content
	default:
		return d.Errorf(n, "listen: expected an endpoint (such as tcp:8080) or a list of them, got %s", describe(n))
	}
	var errs []error
	out := make(Listen, 0, len(items))
	seen := make(map[endpoint.Endpoint]*yaml.Node)
	for _, at := range items {
		it := resolve(at)
		if it == nil || d.isBad(it) {
			continue
		}
		if it.Kind != yaml.ScalarNode || isNull(it) {
			errs = append(errs, d.Errorf(at, "listen: expected an endpoint (such as tcp:8080), got %s", describe(it)))
			continue
		}
		e, err := endpoint.Parse(it.Value)
		if err != nil {
			errs = append(errs, d.Errorf(at, "%v", err)) // the error names the endpoint
			continue
		}
		e = e.Rebase(d.Dir())
		for _, f := range e.Files() {
			local, err := d.placeRead(at, f)
			if err != nil {
				errs = append(errs, d.Errorf(at, "endpoint %s: %v", quote(it.Value), err))
			} else if msg := checkPath(relTo(d.Dir(), f), f, local, false); msg != "" {
				errs = append(errs, d.Errorf(at, "endpoint %s: %s", quote(it.Value), msg))
			}
		}
		e.PrivateKey, e.CertKey = d.local(e.PrivateKey), d.local(e.CertKey)
		// Port 0 asks for a fresh ephemeral port each time: never a duplicate.
		if first, dup := seen[e]; dup && (e.Port != 0 || e.Kind == endpoint.Unix || e.Kind == endpoint.Systemd) {
			errs = append(errs, d.Errorf(at, "endpoint %s is listed twice (first at line %d)", quote(it.Value), first.Line))
			continue
		}
		seen[e] = at
		out = append(out, e)
	}
	*l = out
	return errors.Join(errs...)
}

// Strings returns the endpoints' canonical strings.
func (l Listen) Strings() []string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.String()
	}
	return s
}

// The units of a Size. K, M, G and T alone are binary, as in nginx.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1e3, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1e6, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1e9, "gib": 1 << 30,
	"t": 1 << 40, "tb": 1e12, "tib": 1 << 40,
}

// sizePattern is a size: a number and an optional unit.
var sizePattern = lazyRegexp(`^([0-9][0-9_]*(?:\.[0-9]*)?|\.[0-9]+)\s*([A-Za-z]*)$`)

// ParseSize parses a byte count: a number, optionally with a fraction, and
// an optional unit, case-insensitive: B; KB, MB, GB, TB (powers of 1000);
// KiB, MiB, GiB, TiB and K, M, G, T (powers of 1024). "1.5MiB" is 1572864
// bytes; a fraction of a byte is rounded to the nearest.
func ParseSize(s string) (Size, error) {
	m := sizePattern().FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		if strings.HasPrefix(strings.TrimSpace(s), "-") {
			return 0, fmt.Errorf("size %s is negative", quote(s))
		}
		return 0, fmt.Errorf("bad size %s: want a number and an optional unit, such as 512, 64KiB or 1MB", quote(s))
	}
	num, unit := strings.ReplaceAll(m[1], "_", ""), m[2]
	mult, ok := sizeUnits[strings.ToLower(unit)]
	if !ok {
		return 0, fmt.Errorf("bad size %s: unknown unit %s (use B, KB, KiB, MB, MiB, GB, GiB, TB or TiB)", quote(s), quote(unit))
	}
	tooLarge := fmt.Errorf("size %s is too large", quote(s))
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > math.MaxInt64/mult {
			return 0, tooLarge
		}
		return Size(n * mult), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, tooLarge
	}
	b := math.Round(f * float64(mult))
	if b >= math.MaxInt64 {
		return 0, tooLarge
	}
	return Size(b), nil
}

// UnmarshalConfig decodes a size with ParseSize; a YAML number is bytes.
func (s *Size) UnmarshalConfig(d *Decoder, n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return d.Errorf(n, "expected a size such as 64KiB, got %s", describe(n))
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		return d.Errorf(n, "%v", err)
	}
	*s = v
	return nil
}

// String formats s in the largest binary unit that divides it: "64KiB", "1GiB", "1000B".
func (s Size) String() string {
	if s == 0 {
		return "0"
	}
	for _, u := range []struct {
		name string
		n    Size
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if s%u.n == 0 {
			return strconv.FormatInt(int64(s/u.n), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// mib returns s in whole MiB, rounded up.
func (s Size) mib() int {
	m := s / (1 << 20)
	if s%(1<<20) > 0 {
		m++
	}
	return int(m)
}

// resolvePath makes p absolute against dir; "-" (standard output, by
// twistd's convention) is kept as written.
func resolvePath(dir, p string) string {
	if p == "-" {
		return p
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

// relTo returns p relative to dir when it lies inside it (for messages), else p.
func relTo(dir, p string) string {
	if r, err := filepath.Rel(dir, p); err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return r
	}
	return p
}

// place records host, a path at node n, among the file's Paths, and
// returns where this process finds it (inside a chroot: its place in the
// jail; outside the jail: an error).
func (d *Decoder) place(n *yaml.Node, host string) (string, error) {
	if d.file == nil || host == "-" {
		return host, nil
	}
	d.file.Paths = append(d.file.Paths, PathUse{Pos: d.pos(n), Service: d.service, Path: host})
	return InChroot(d.file.root, host)
}

// placeRead is place for a file the service reads its data from.
func (d *Decoder) placeRead(n *yaml.Node, host string) (string, error) {
	local, err := d.place(n, host)
	if d.file != nil && host != "-" {
		d.file.Paths[len(d.file.Paths)-1].Read = true
	}
	return local, err
}

// local is where this process finds host, or host when it cannot (the
// error is reported by place).
func (d *Decoder) local(host string) string {
	if d.file == nil || host == "" {
		return host
	}
	if p, err := InChroot(d.file.root, host); err == nil {
		return p
	}
	return host
}

// checkPath returns what is wrong with the file (or, with dir, directory)
// at resolved, written as written in the file, and found by this process
// at local; "" if nothing is.
func checkPath(written, resolved, local string, dir bool) string {
	where := ""
	if written != resolved {
		where = " (" + resolved + ")"
	}
	what := "file"
	if dir {
		what = "directory"
	}
	fi, err := os.Stat(local)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("no such %s %s%s", what, quote(written), where)
	case err != nil:
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Sprintf("cannot use %s%s: %v", quote(written), where, err)
	case dir && !fi.IsDir():
		return fmt.Sprintf("%s%s is not a directory", quote(written), where)
	case !dir && fi.IsDir():
		return fmt.Sprintf("%s%s is a directory, not a file", quote(written), where)
	case !dir && !fi.Mode().IsRegular():
		return fmt.Sprintf("%s%s is not a regular file", quote(written), where)
	}
	return ""
}

// path reads a non-empty path scalar and resolves it.
func (d *Decoder) path(n *yaml.Node) (written, resolved string, err error) {
	if n.Kind != yaml.ScalarNode {
		return "", "", d.Errorf(n, "expected a path, got %s", describe(n))
	}
	if n.Value == "" {
		return "", "", d.Errorf(n, "empty path")
	}
	return n.Value, resolvePath(d.Dir(), n.Value), nil
}

// UnmarshalConfig resolves a relative path against the file's directory
// ("~" is not expanded; "-", standard output by convention, is kept).
func (p *Path) UnmarshalConfig(d *Decoder, n *yaml.Node) error {
	_, r, err := d.path(n)
	if err != nil {
		return err
	}
	local, err := d.place(n, r)
	if err != nil {
		return d.Errorf(n, "%v", err)
	}
	*p = Path(local)
	return nil
}

// UnmarshalConfig resolves the path like Path and checks that it names an
// existing regular file (symbolic links followed).
func (p *FilePath) UnmarshalConfig(d *Decoder, n *yaml.Node) error {
	w, r, err := d.path(n)
	if err != nil {
		return err
	}
	if r == "-" {
		r = filepath.Join(d.Dir(), r)
	}
	local, err := d.placeRead(n, r)
	if err != nil {
		return d.Errorf(n, "%v", err)
	}
	*p = FilePath(local)
	if msg := checkPath(w, r, local, false); msg != "" {
		return d.Errorf(n, "%s", msg)
	}
	return nil
}

// UnmarshalConfig resolves the path like Path and checks that it names an
// existing directory (symbolic links followed).
func (p *DirPath) UnmarshalConfig(d *Decoder, n *yaml.Node) error {
	w, r, err := d.path(n)
	if err != nil {
		return err
	}
	if r == "-" {
		r = filepath.Join(d.Dir(), r)
	}
	local, err := d.place(n, r)
	if err != nil {
		return d.Errorf(n, "%v", err)
	}
	*p = DirPath(local)
	if msg := checkPath(w, r, local, true); msg != "" {
		return d.Errorf(n, "%s", msg)
	}
	return nil
}

var (
	_ Unmarshaler = (*Listen)(nil)
	_ Unmarshaler = (*Size)(nil)
	_ Unmarshaler = (*Path)(nil)
	_ Unmarshaler = (*FilePath)(nil)
	_ Unmarshaler = (*DirPath)(nil)
)
