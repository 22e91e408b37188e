package exec

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/service"
)

// Bounds on an inetd.conf: it is read whole before anything starts.
const (
	maxInetdLine  = 4 << 10
	maxInetdLines = 10000
)

// InetdInternal are the inetd internal services twistd serves itself
// (the tcp plugin's RFC 862-868 protocols).
var InetdInternal = []string{"echo", "discard", "chargen", "daytime", "time"}

// InetdService is one inetd.conf line twistd serves.
type InetdService struct {
	// Line is the line's number in the file.
	Line int
	// Name is the service field made a service name ([a-z0-9-]).
	Name string
	// Listen is the endpoint: tcp:PORT or tcp6:PORT, with interface=.
	Listen string
	// Internal is the internal service's protocol ("" for a program).
	Internal string
	// Program and Args are the server program and its arguments after
	// argv[0]. User and Group are whom it runs as.
	Program     string
	Args        []string
	User, Group string
	// MaxInstances is FreeBSD's nowait/N (max-child); 0 when not given.
	MaxInstances int
}

// InetdWarning is a line skipped, and why.
type InetdWarning struct {
	Line int
	Msg  string
}

// LookupPort resolves a service name for a protocol ("tcp"), as
// /etc/services has it.
type LookupPort func(proto, name string) (int, error)

// ParseInetd reads an inetd.conf: `SERVICE stream tcp nowait USER[.GROUP]
// PROGRAM ARGV0 ARGS...` lines become services, other kinds of lines
// (dgram, wait, rpc, udp) are skipped with a warning. An error names the
// line of a stream tcp nowait service that cannot be served as written.
func ParseInetd(r io.Reader, lookup LookupPort) ([]InetdService, []InetdWarning, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1024), maxInetdLine)
	var out []InetdService
	var warns []InetdWarning
	var errs []error
	names := map[string]int{}
	n := 0
	for sc.Scan() {
		n++
		if n > maxInetdLines {
			return nil, nil, fmt.Errorf("more than %d lines", maxInetdLines)
		}
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		svc, skip, err := inetdLine(f, lookup)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%d: %w", n, err))
			continue
		case skip != "":
			warns = append(warns, InetdWarning{Line: n, Msg: skip})
			continue
		}
		svc.Line = n
		base := svc.Name
		names[base]++
		if k := names[base]; k > 1 {
			svc.Name = base + "-" + strconv.Itoa(k)
		}
		out = append(out, svc)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, nil, fmt.Errorf("%d: line longer than %d bytes", n+1, maxInetdLine)
		}
		return nil, nil, err
	}
	return out, warns, errors.Join(errs...)
}

// inetdLine reads one line's fields: a service, or why it is skipped, or
// what is wrong with it.
func inetdLine(f []string, lookup LookupPort) (svc InetdService, skip string, err error) {
	if len(f) < 6 {
		return svc, "want SERVICE SOCKET-TYPE PROTOCOL WAIT USER PROGRAM [ARGS...]", nil
	}
	service, sock, proto, wait, who, prog := f[0], f[1], f[2], f[3], f[4], f[5]
	if sock != "stream" {
		return svc, fmt.Sprintf("%s %s: only stream services are served", service, sock), nil
	}
	kind := "tcp"
	switch proto {
	case "tcp", "tcp4":
	case "tcp6":
		kind = "tcp6"
	default:
		return svc, fmt.Sprintf("%s %s: only tcp, tcp4 and tcp6 are served", service, proto), nil
	}
	w, limit, _ := strings.Cut(wait, "/")
	w, _, _ = strings.Cut(w, ".") // nowait.N (a rate, in some inetds) is not kept
	switch w {
	case "nowait":
	case "wait":
		return svc, fmt.Sprintf("%s: stream wait services (the program accepts its own connections) are not served", service), nil
	default:
		return svc, fmt.Sprintf("%s %s: want wait or nowait", service, wait), nil
	}
	if limit != "" {
		first, _, _ := strings.Cut(limit, "/")
		if svc.MaxInstances, err = strconv.Atoi(first); err != nil || svc.MaxInstances < 1 {
			return svc, "", fmt.Errorf("%s %s: max-child %q is not a positive number", service, wait, first)
		}
	}
	host, name := "", service
	if i := strings.LastIndexByte(service, ':'); i >= 0 {
		host, name = strings.Trim(service[:i], "[]"), service[i+1:]
		if host == "*" {
			host = ""
		}
		if host != "" && net.ParseIP(host) == nil {
			return svc, "", fmt.Errorf("%s: %q is not an IP address", service, host)
		}
	}
	port, perr := strconv.Atoi(name)
	if perr != nil {
		if port, perr = lookup("tcp", name); perr != nil {
			return svc, "", fmt.Errorf("%s: unknown service (not in /etc/services, not a port number)", service)
		}
	}
	if port < 0 || port > 65535 { // 0: an ephemeral port, logged
		return svc, "", fmt.Errorf("%s: port %d out of range", service, port)
	}
	svc.Listen = kind + ":" + strconv.Itoa(port)
	if host != "" {
		svc.Listen += ":interface=" + strings.ReplaceAll(host, ":", `\:`)
	}
	svc.Name = serviceName(name)
	svc.User, svc.Group, _ = strings.Cut(who, ".")
	if svc.Group == "" {
		svc.User, svc.Group, _ = strings.Cut(who, ":")
	}
	if svc.User == "" {
		return svc, "", fmt.Errorf("%s: empty user", service)
	}
	if prog == "internal" {
		if !slices.Contains(InetdInternal, name) {
			return svc, fmt.Sprintf("%s: internal service not provided (only %s)", service, strings.Join(InetdInternal, ", ")), nil
		}
		svc.Internal = name
		return svc, "", nil
	}
	svc.Program = prog
	if len(f) > 7 {
		svc.Args = append([]string(nil), f[7:]...) // f[6] is argv[0]
	}
	return svc, "", nil
}

// serviceName makes a service field a valid service name.
func serviceName(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		} else if b.Len() > 0 {
			b.WriteByte('-')
		}
	}
	name := strings.TrimRight(b.String(), "-")
	if name == "" {
		name = "inetd"
	}
	return name
}

// inetdMaker is `twistd inetd --file F`: a one-liner that stands for one
// service per line of the file.
type inetdMaker struct{}

func (inetdMaker) Name() string { return "inetd" }
func (inetdMaker) Description() string {
	return "serve an inetd.conf's stream tcp nowait services (one exec service per line)"
}

func (inetdMaker) New(s *plugin.Entry) (service.Service, error) {
	return nil, s.Errorf(s.Value("type"), "type: inetd is the one-liner `twistd inetd --file FILE`; in a file, write a type: exec entry for each program")
}

// Flags registers --file (twistd's inetd plugin's flag; default
// /etc/inetd.conf, as inetd's).
func (inetdMaker) Flags(fs *pflag.FlagSet) func() (map[string]any, error) {
	file := fs.StringP("file", "f", "/etc/inetd.conf", "the inetd.conf to serve")
	return func() (map[string]any, error) {
		path, err := filepath.Abs(*file)
		if err != nil {
			return nil, err
		}
		list, err := InetdEntries(path, net.LookupPort, os.Stderr)
		if err != nil {
			return nil, err
		}
		return map[string]any{"services": list}, nil
	}
}

// InetdEntries reads the inetd.conf at path and returns the application
// file entries it stands for; skipped lines are reported on warn as
// "warning: FILE:LINE: ...". A program or user that does not exist is an
// error naming its line.
func InetdEntries(path string, lookup LookupPort, warn io.Writer) ([]map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--file: %w", err)
	}
	defer f.Close()
	svcs, warns, err := ParseInetd(io.LimitReader(f, maxInetdLine*maxInetdLines), lookup)
	if err != nil {
		return nil, prefixLines(path, err)
	}
	for _, w := range warns {
		fmt.Fprintf(warn, "warning: %s:%d: skipped: %s\n", path, w.Line, w.Msg)
	}
	var errs []error
	var out []map[string]any
	for _, s := range svcs {
		var e map[string]any
		if s.Internal != "" {
			e = map[string]any{"name": s.Name, "type": "tcp", "protocol": s.Internal, "listen": s.Listen}
		} else {
			prog, perr := ResolveProgram(s.Program, filepath.Dir(path), DefaultPath)
			if perr != nil {
				errs = append(errs, fmt.Errorf("%s:%d: %s: %w", path, s.Line, s.Name, perr))
			}
			id := Identity{User: s.User, Group: s.Group}
			if _, cerr := id.Credential(); cerr != nil {
				errs = append(errs, fmt.Errorf("%s:%d: %s: %w", path, s.Line, s.Name, cerr))
			}
			e = map[string]any{"name": s.Name, "type": "exec", "listen": s.Listen,
				"command": append([]string{prog}, s.Args...), "user": s.User}
			if s.Group != "" {
				e["group"] = s.Group
			}
			if s.MaxInstances > 0 {
				e["max_instances"] = s.MaxInstances
			}
		}
		out = append(out, e)
	}
	if len(out) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%s: no stream tcp nowait service to serve", path))
	}
	return out, errors.Join(errs...)
}

// prefixLines names the file in front of each "LINE: msg" error.
func prefixLines(path string, err error) error {
	var out []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, fmt.Errorf("%s:%w", path, e))
		}
		return errors.Join(out...)
	}
	return fmt.Errorf("%s:%w", path, err)
}
