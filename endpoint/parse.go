package endpoint

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Parse parses a server endpoint string: the Twisted grammar of SPEC §3
// (tcp, tcp6, udp, unix, ssl/tls, systemd, haproxy:...) and the shorthands
// "8080", ":8080", "127.0.0.1:8080", "[::1]:8080" and "localhost:8080" (all
// tcp). "\:" escapes a colon inside a value and "\\" a backslash. Errors name
// the string and what is wrong with it.
//
// As in Twisted, the first argument of tcp, tcp6, udp, ssl (the port) and unix
// (the path) may be given bare or as a keyword (port=, address=); every other
// option is KEY=VALUE. Type and option names are case-sensitive. A host name
// in the HOST:PORT shorthand must be "localhost" or contain a dot, so that
// "quic:1" reads as an unknown type rather than a host.
//
// Parse canonicalizes where two spellings bind the same socket: IP addresses
// are printed by net/netip, host names lower-cased, tcp6's interface "::"
// dropped, and an ssl CertKey defaults to PrivateKey.
func Parse(s string) (Endpoint, error) {
	e, err := parse(s)
	if err != nil {
		return Endpoint{}, fmt.Errorf("endpoint %q: %w", s, err)
	}
	return e, nil
}

// kinds maps the type names of the grammar (haproxy aside) to their kinds.
var kinds = map[string]Kind{
	"tcp": TCP, "tcp6": TCP6, "udp": UDP, "ssl": SSL, "tls": SSL, "unix": Unix, "systemd": Systemd,
}

func parse(s string) (Endpoint, error) {
	switch {
	case s == "":
		return Endpoint{}, errors.New("empty")
	case strings.IndexByte(s, 0) >= 0:
		return Endpoint{}, errors.New("contains a NUL byte")
	case !utf8.ValidString(s):
		return Endpoint{}, errors.New("not valid UTF-8")
	case isDigits(s):
		return shorthand("", s)
	case s[0] == ':':
		return shorthand("", s[1:])
	case s[0] == '[':
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			return Endpoint{}, errors.New("want [IPV6]:PORT")
		}
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() {
			return Endpoint{}, fmt.Errorf("%q is not an IPv6 address", host)
		}
		return shorthand(host, port)
	}

	typ, rest, hasRest, err := cut(s)
	if err != nil {
		return Endpoint{}, err
	}
	if kind, ok := kinds[typ]; ok {
		var fields []field
		if hasRest {
			if fields, err = split(rest); err != nil {
				return Endpoint{}, err
			}
		}
		switch kind {
		case Unix:
			return parseUnix(fields)
		case Systemd:
			return parseSystemd(fields)
		}
		return parseInet(kind, typ, fields)
	}
	if typ == "haproxy" {
		return parseHAProxy(rest)
	}

	// HOST:PORT shorthand.
	if isShorthandHost(typ) {
		if !hasRest {
			return Endpoint{}, errors.New("missing port")
		}
		return shorthand(typ, rest)
	}
	if isDigits(typ) {
		return Endpoint{}, fmt.Errorf("a bare port takes no options (write tcp:%s:...)", typ)
	}
	return Endpoint{}, fmt.Errorf("unknown type %q", typ)
}

// shorthand is the tcp endpoint of "PORT", ":PORT" and "HOST:PORT".
func shorthand(host, port string) (Endpoint, error) {
	p, err := parsePort(port)
	if err != nil {
		return Endpoint{}, err
	}
	e := Endpoint{Kind: TCP, Port: p}
	if host != "" {
		if e.Interface, err = parseInterface(TCP, host); err != nil {
			return Endpoint{}, err
		}
	}
	return e, nil
}

// isShorthandHost reports whether s may be the HOST of a HOST:PORT
// shorthand: an IP address, "localhost", or a host name with a dot.
func isShorthandHost(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	return isHostname(s) && (strings.EqualFold(s, "localhost") || strings.Contains(s, "."))
}

func parseHAProxy(rest string) (Endpoint, error) {
	if rest == "" {
		return Endpoint{}, errors.New("haproxy needs an endpoint to wrap (haproxy:tcp:PORT)")
	}
	if typ, _, _, _ := cut(rest); typ == "haproxy" {
		return Endpoint{}, errors.New("haproxy cannot wrap haproxy")
	}
	inner, trusted, err := takeTrusted(rest)
	if err != nil {
		return Endpoint{}, err
	}
	e, err := parse(inner)
	switch {
	case err != nil:
		return Endpoint{}, err
	case !e.IsStream():
		return Endpoint{}, fmt.Errorf("haproxy needs a stream endpoint, not %s", e.Kind)
	}
	e.HAProxy = true
	if trusted != nil {
		if e.Trusted, err = parsePrefixList(*trusted); err != nil {
			return Endpoint{}, err
		}
	}
	return e, nil
}

// takeTrusted removes the trusted= option, haproxy's own, from the raw
// fields of the endpoint it wraps; it returns the rest as written and the
// option's unescaped value (nil when absent).
func takeTrusted(rest string) (inner string, trusted *string, err error) {
	var kept []string
	for _, raw := range rawFields(rest) {
		fs, err := split(raw)
		if err != nil {
			return "", nil, err
		}
		if f := fs[0]; f.keyed && f.key == "trusted" {
			if trusted != nil {
				return "", nil, errors.New("trusted given twice")
			}
			if f.value == "" {
				return "", nil, errors.New("empty value for trusted")
			}
			v := f.value
			trusted = &v
			continue
		}
		kept = append(kept, raw)
	}
	return strings.Join(kept, ":"), trusted, nil
}

// rawFields splits s at its unescaped colons, keeping escapes as written.
func rawFields(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case ':':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// parseInet parses tcp, tcp6, udp and ssl; name is the type as written
// ("tls" for the ssl alias), for messages.
func parseInet(kind Kind, name string, fields []field) (Endpoint, error) {
	keys := []string{"port", "interface", "reuseport"}
	if kind != UDP {
		keys = append(keys, "backlog")
	}
	if kind == SSL {
		keys = append(keys, "privateKey", "certKey")
	}
	o, err := bind(name, fields, "port", keys...)
	if err != nil {
		return Endpoint{}, err
	}
	if !o.has("port") {
		return Endpoint{}, fmt.Errorf("%s needs a port", name)
	}
	e := Endpoint{
		Kind:      kind,
		Port:      o.port(),
		Interface: o.iface(kind),
		Backlog:   o.count("backlog"),
		ReusePort: o.flag("reuseport"),
	}
	if kind == SSL && o.err == nil {
		if !o.has("privateKey") {
			return Endpoint{}, fmt.Errorf("%s needs privateKey=", name)
		}
		e.PrivateKey = o.vals["privateKey"]
		e.CertKey = e.PrivateKey
		if o.has("certKey") {
			e.CertKey = o.vals["certKey"]
		}
	}
	return e, o.err
}

func parseUnix(fields []field) (Endpoint, error) {
	o, err := bind("unix", fields, "address", "address", "mode", "lockfile", "backlog")
	if err != nil {
		return Endpoint{}, err
	}
	e := Endpoint{
		Kind:     Unix,
		Path:     o.vals["address"],
		Mode:     o.mode(),
		Lockfile: o.flag("lockfile"),
		Backlog:  o.count("backlog"),
	}
	switch {
	case o.err != nil:
		return Endpoint{}, o.err
	case e.Path == "":
		return Endpoint{}, errors.New("unix needs a path")
	case e.Path == "@":
		return Endpoint{}, errors.New("unix abstract socket name is empty")
	}
	return e, nil
}

func parseSystemd(fields []field) (Endpoint, error) {
	o, err := bind("systemd", fields, "", "domain", "index", "name")
	if err != nil {
		return Endpoint{}, err
	}
	e := Endpoint{Kind: Systemd}
	if o.has("name") {
		if o.has("domain") || o.has("index") {
			return Endpoint{}, errors.New("systemd takes either name= or domain= and index=")
		}
		e.SystemdName = o.vals["name"]
		if !isFDName(e.SystemdName) {
			return Endpoint{}, fmt.Errorf("systemd name %q is not a valid FileDescriptorName (at most 255 printable ASCII characters, no colon)", e.SystemdName)
		}
		return e, nil
	}
	if !o.has("domain") || !o.has("index") {
		return Endpoint{}, errors.New("systemd needs domain= and index= (or name=)")
	}
	e.SystemdDomain = strings.ToUpper(o.vals["domain"])
	if e.SystemdDomain != "INET" && e.SystemdDomain != "INET6" && e.SystemdDomain != "UNIX" {
		return Endpoint{}, fmt.Errorf("systemd domain %q is not INET, INET6 or UNIX", o.vals["domain"])
	}
	e.SystemdIndex = o.count("index")
	return e, o.err
}

// isFDName reports whether s is a valid systemd FileDescriptorName.
func isFDName(s string) bool {
	if len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

// cut splits s at its first unescaped colon: the unescaped type before it
// and the raw rest after it.
func cut(s string) (typ, rest string, found bool, err error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			i++
			if i == len(s) {
				return "", "", false, errors.New("ends with a lone backslash")
			}
			b.WriteByte(s[i])
		case ':':
			return b.String(), s[i+1:], true, nil
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), "", false, nil
}

// A field is one colon-separated part of an endpoint string: a bare
// argument, or key=value.
type field struct {
	key, value string
	keyed      bool
}

// split splits s into fields the way Twisted's tokenizer does: ":" ends a
// field, the first "=" of a field ends its key, and a backslash takes the
// next character literally.
func split(s string) ([]field, error) {
	var (
		fields []field
		f      field
		cur    strings.Builder
	)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
			if i == len(s) {
				return nil, errors.New("ends with a lone backslash")
			}
			cur.WriteByte(s[i])
		case c == ':':
			f.value = cur.String()
			fields = append(fields, f)
			f = field{}
			cur.Reset()
		case c == '=' && !f.keyed:
			f.key, f.keyed = cur.String(), true
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	f.value = cur.String()
	return append(fields, f), nil
}

// options holds the bound values of one endpoint's fields. Its parsing
// methods record the first error in err and return zero values after it.
type options struct {
	vals map[string]string
	err  error
}

// bind maps fields to the option names keys. A bare field sets the
// positional option (none if positional is ""), at most once; the rest must
// be key=value with a key in keys, each given once and not empty.
func bind(typ string, fields []field, positional string, keys ...string) (*options, error) {
	o := &options{vals: map[string]string{}}
	bare := false
	for _, f := range fields {
		name := f.key
		if !f.keyed {
			if f.value == "" {
				return nil, errors.New("empty argument")
			}
			if positional == "" || bare {
				return nil, fmt.Errorf("unexpected argument %q for %s (want KEY=VALUE)", f.value, typ)
			}
			name, bare = positional, true
		} else {
			if name == "" {
				return nil, fmt.Errorf("option =%s has no name", f.value)
			}
			if name == "trusted" {
				return nil, fmt.Errorf("trusted= is an option of haproxy: endpoints (haproxy:%s:...:trusted=CIDR,...)", typ)
			}
			if !slices.Contains(keys, name) {
				return nil, fmt.Errorf("unknown option %q for %s", name, typ)
			}
			if f.value == "" {
				return nil, fmt.Errorf("empty value for %s", name)
			}
		}
		if o.has(name) {
			return nil, fmt.Errorf("%s given twice", name)
		}
		o.vals[name] = f.value
	}
	return o, nil
}

func (o *options) has(name string) bool {
	_, ok := o.vals[name]
	return ok
}

// value returns the value of name, or ok false if it is absent or an
// earlier option failed.
func (o *options) value(name string) (v string, ok bool) {
	if o.err != nil {
		return "", false
	}
	v, ok = o.vals[name]
	return v, ok
}

func (o *options) port() int {
	v, ok := o.value("port")
	if !ok {
		return 0
	}
	p, err := parsePort(v)
	o.err = err
	return p
}

func (o *options) iface(kind Kind) string {
	v, ok := o.value("interface")
	if !ok {
		return ""
	}
	host, err := parseInterface(kind, v)
	o.err = err
	return host
}

// count parses a non-negative decimal number (backlog, index).
func (o *options) count(name string) int {
	v, ok := o.value(name)
	if !ok {
		return 0
	}
	if !isDigits(v) {
		o.err = fmt.Errorf("%s %q is not a number", name, v)
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		o.err = fmt.Errorf("%s %q is too large", name, v)
		return 0
	}
	return int(n)
}

// flag parses true/false/1/0, the first two in any case.
func (o *options) flag(name string) bool {
	v, ok := o.value(name)
	switch {
	case !ok:
		return false
	case v == "1" || strings.EqualFold(v, "true"):
		return true
	case v == "0" || strings.EqualFold(v, "false"):
		return false
	}
	o.err = fmt.Errorf("%s %q is not a boolean (want true, false, 1 or 0)", name, v)
	return false
}

// mode parses an octal permission mode, 0 to 0777, with an optional "0o".
func (o *options) mode() os.FileMode {
	v, ok := o.value("mode")
	if !ok {
		return 0
	}
	digits := v
	if len(digits) > 2 && (digits[:2] == "0o" || digits[:2] == "0O") {
		digits = digits[2:]
	}
	if strings.Trim(digits, "01234567") != "" {
		o.err = fmt.Errorf("mode %q is not an octal number", v)
		return 0
	}
	m, err := strconv.ParseUint(digits, 8, 32)
	if err != nil || m > 0o777 {
		o.err = fmt.Errorf("mode %q is out of range 0000-0777", v)
		return 0
	}
	return os.FileMode(m)
}

// parsePort parses a port number, 0 to 65535.
func parsePort(v string) (int, error) {
	if v == "" {
		return 0, errors.New("missing port")
	}
	if !isDigits(v) {
		return 0, fmt.Errorf("port %q is not a number", v)
	}
	p, err := strconv.Atoi(v)
	if err != nil || p > 65535 {
		return 0, fmt.Errorf("port %q is out of range 0-65535", v)
	}
	return p, nil
}

// parseInterface checks an interface to bind, an IP address (optionally in
// brackets if IPv6) or a host name, and returns its canonical form.
func parseInterface(kind Kind, v string) (string, error) {
	host := v
	bracketed := len(v) >= 2 && v[0] == '[' && v[len(v)-1] == ']'
	if bracketed {
		host = v[1 : len(v)-1]
	}
	if a, err := netip.ParseAddr(host); err == nil {
		switch {
		case !a.Is6() && bracketed:
			return "", fmt.Errorf("interface %q: only IPv6 addresses go in brackets", v)
		case !a.Is6() && kind == TCP6:
			return "", fmt.Errorf("tcp6 interface %q is not an IPv6 address", v)
		case a == netip.IPv6Unspecified() && kind == TCP6:
			return "", nil // tcp6's default
		}
		return a.String(), nil
	}
	if bracketed || !isHostname(host) {
		return "", fmt.Errorf("interface %q is not an IP address or host name", v)
	}
	return strings.ToLower(host), nil
}

// isHostname reports whether s is a DNS host name: dot-separated labels of
// letters, digits and inner hyphens, the last one not all digits (so that a
// malformed IPv4 address is not taken for a name).
func isHostname(s string) bool {
	if len(s) > 253 {
		return false
	}
	labels := strings.Split(strings.TrimSuffix(s, "."), ".")
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return !isDigits(labels[len(labels)-1])
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}
