package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// topKeys are the keys an application file may have at its top level.
var topKeys = []string{"version", "name", "process", "admin", "services"}

// commonKeys are the keys of a service entry that the loader decodes;
// Service.Decode leaves them out.
var commonKeys = map[string]bool{"name": true, "type": true, "listen": true, "on_failure": true, "allow": true, "deny": true}

// serviceName is the form of a service's name (at most 63 characters).
var serviceName = lazyRegexp(`^[a-z0-9][a-z0-9-]*$`)

const maxNameLen = 63

// Parse is Load for a document already in memory: path names it in
// messages (and gives File.Name its default), and relative paths inside it
// are resolved against dir (made absolute). Load(path) is Parse(path,
// filepath.Dir(path), contents); a command line turned into a document
// passes the working directory.
func Parse(path, dir string, data []byte, opts Options) (*File, error) {
	if len(data) > maxFileSize {
		return nil, errTooLarge(path)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	base := filepath.Base(path)
	f := &File{
		Path: path,
		Dir:  dir,
		Name: strings.TrimSuffix(base, filepath.Ext(base)),
		bad:  make(map[*yaml.Node]bool),
		root: opts.Chroot,
		logs: opts.LogOpener,
	}
	root, err := parseYAML(path, data)
	if err != nil {
		return nil, err
	}
	if root == nil {
		return f, &Error{Pos: Pos{File: path, Line: 1, Col: 1}, Msg: "no services: the file is empty"}
	}
	if err := checkLimits(path, root); err != nil {
		return nil, err
	}
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	l := &loader{
		file: f,
		opts: opts,
		d:    &Decoder{file: f, node: root},
		env:  &substituter{path: path, lookup: lookup, bad: f.bad, done: make(map[*yaml.Node]bool)},
	}
	l.substitute(root)
	l.top(root)
	return f, Join(append(l.env.errs, l.d.errs...)...)
}

// loader decodes the top level of one file.
type loader struct {
	file *File
	opts Options
	d    *Decoder // collects every error but the substituter's
	env  *substituter
	eps  []placed // every endpoint written, admin's first, for conflicts
}

// substitute replaces ${VAR} in every value, attributing problems inside a
// service entry to that service.
func (l *loader) substitute(root *yaml.Node) {
	if root.Kind != yaml.MappingNode {
		l.env.walk(root, "")
		return
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value != "services" || v.Kind != yaml.SequenceNode {
			l.env.walk(v, "")
			continue
		}
		for _, entry := range v.Content {
			if entry.Kind != yaml.MappingNode {
				l.env.walk(entry, "")
				continue
			}
			// The service's label comes from its name or type: substitute
			// those first (the type first, to label problems in the name).
			var name, typ string
			for _, key := range []string{"type", "name"} {
				for j := 0; j+1 < len(entry.Content); j += 2 {
					ek, ev := entry.Content[j], entry.Content[j+1]
					if ek.Kind != yaml.ScalarNode || ek.Value != key || ev.Kind != yaml.ScalarNode {
						continue
					}
					l.env.scalar(ev, typ)
					if !l.env.bad[ev] && key == "type" {
						typ = ev.Value
					} else if !l.env.bad[ev] {
						name = ev.Value
					}
				}
			}
			label := name
			if label == "" {
				label = typ
			}
			l.env.walk(entry, label)
		}
	}
}

// top decodes the top-level mapping.
func (l *loader) top(root *yaml.Node) {
	d := l.d
	if root.Kind != yaml.MappingNode {
		d.errorf(root, "expected a mapping with services: at the top level, got %s", describe(root))
		return
	}
	var services *yaml.Node
	for _, p := range d.pairs(root, nil, true) {
		switch key := p.key.Value; key {
		case "version":
			l.version(p.val)
		case "name":
			before := l.file.Name
			d.value(p.val, reflect.ValueOf(&l.file.Name).Elem())
			if l.file.Name == "" {
				d.errorf(p.val, "name must not be empty")
				l.file.Name = before
			}
		case "process":
			l.process(p.val)
		case "admin":
			l.admin(p.val)
		case "services":
			services = p.val
		default:
			d.errorf(p.key, "unknown key %s%s", quote(key), suggest(key, topKeys))
		}
	}
	if services == nil {
		d.errorf(root, `no services: the file needs a "services:" list`)
		return
	}
	l.services(services)
}

func (l *loader) version(at *yaml.Node) {
	n := resolve(at)
	if n == nil || l.d.isBad(n) || isNull(n) {
		return
	}
	var v int64
	before := len(l.d.errs)
	l.d.value(at, reflect.ValueOf(&v).Elem())
	if len(l.d.errs) == before && v != 1 {
		l.d.errorf(at, "unsupported version %s: this twistd reads version 1", quote(n.Value))
	}
}

// process decodes process: and validates it.
func (l *loader) process(at *yaml.Node) {
	d := l.d
	n := resolve(at)
	if n == nil || d.isBad(n) || isNull(n) {
		return
	}
	p := &l.file.Process
	d.value(at, reflect.ValueOf(p).Elem())
	if n.Kind != yaml.MappingNode {
		return
	}
	nodes := make(map[string]*yaml.Node)
	for _, pr := range d.pairs(n, nil, false) {
		nodes[pr.key.Value] = pr.val
	}
	oneOf := func(key string, v *string, allowed ...string) {
		if v == nil {
			return
		}
		for _, a := range allowed {
			if *v == a {
				return
			}
		}
		list := strings.Join(allowed[:len(allowed)-1], ", ") + " or " + allowed[len(allowed)-1]
		d.errorf(nodes[key], "%s must be %s, got %s", key, list, quote(*v))
		*v = ""
	}
	oneOf("log_format", p.LogFormat, "console", "json")
	oneOf("log_level", p.LogLevel, "debug", "info", "warn", "error")
	if p.Umask != nil {
		digits := strings.TrimPrefix(*p.Umask, "0o")
		m, err := strconv.ParseUint(digits, 8, 32)
		if err != nil || digits == "" || m > 0o777 {
			d.errorf(nodes["umask"], "umask must be octal digits from 0 to 0777, such as 0022, got %s", quote(*p.Umask))
			p.Umask = nil
		} else {
			u := fmt.Sprintf("%04o", m)
			p.Umask = &u
		}
	}
	// Paths are resolved against the file's directory, but for logfile "-"
	// (standard output) and pidfile "" (no pidfile).
	resolveField := func(key string, v **string, keep string) {
		switch {
		case *v == nil || **v == keep:
		case **v == "":
			d.errorf(nodes[key], "%s must not be empty", key)
			*v = nil
		default:
			r := filepath.Clean(**v)
			if !filepath.IsAbs(r) {
				r = filepath.Join(l.file.Dir, r)
			}
			*v = &r
		}
	}
	resolveField("logfile", &p.Logfile, "-")
	resolveField("pidfile", &p.Pidfile, "")
	resolveField("rundir", &p.Rundir, "\x00")
	resolveField("chroot", &p.Chroot, "\x00")
	for key, v := range map[string]*time.Duration{"shutdown_timeout": p.ShutdownTimeout, "shutdown_delay": p.ShutdownDelay} {
		if v != nil && *v < 0 {
			d.errorf(nodes[key], "%s must not be negative, got %s", key, v)
		}
	}
	if p.Reactor != nil && l.opts.CheckReactor != nil {
		if err := l.opts.CheckReactor(*p.Reactor); err != nil {
			d.errorf(nodes["reactor"], "reactor: %v", err)
			p.Reactor = nil
		}
	}
	if p.LogMaxBackups != nil && *p.LogMaxBackups < 0 {
		d.errorf(nodes["log_max_backups"], "log_max_backups must not be negative, got %d", *p.LogMaxBackups)
	}
}

// admin decodes admin: and checks it names exactly one stream endpoint.
func (l *loader) admin(at *yaml.Node) {
	d := l.d
	n := resolve(at)
	if n == nil || d.isBad(n) || isNull(n) {
		return
	}
	a := &Admin{}
	before := len(d.errs)
	d.value(at, reflect.ValueOf(a).Elem())
	if n.Kind != yaml.MappingNode {
		return
	}
	l.file.Admin = a
	var listen *yaml.Node
	for _, p := range d.pairs(n, nil, false) {
		if p.key.Value == "listen" {
			listen = p.val
		}
	}
	ln := resolve(listen)
	switch {
	case ln == nil || isNull(ln):
		d.errorf(at, "admin needs listen: an endpoint such as tcp:9090:interface=127.0.0.1")
	case len(d.errs) > before && len(a.Listen) == 0:
		// The endpoint's own error says what is wrong.
	case ln.Kind == yaml.SequenceNode && len(ln.Content) != 1:
		d.errorf(listen, "admin listen takes exactly one endpoint, got %d", len(ln.Content))
	case len(a.Listen) == 1 && !a.Listen[0].IsStream():
		d.errorf(listen, "admin listen must be a stream endpoint (tcp, ssl, unix...), not %s", quote(a.Listen[0].String()))
	}
	l.eps = append(l.eps, listenItems(d, listen)...)
}

// entry is a service entry being loaded.
type entry struct {
	svc      *Service
	named    bool // name: is present (valid or not)
	nameNode *yaml.Node
}

// services decodes the services: list: each entry's name, type and listen,
// then the names given by default and their uniqueness.
func (l *loader) services(at *yaml.Node) {
	d := l.d
	n := resolve(at)
	switch {
	case n == nil || d.isBad(n) || isNull(n):
		d.errorf(at, "no services: the services: list is empty")
		return
	case n.Kind != yaml.SequenceNode:
		d.errorf(at, "services: expected a list of services, got %s", describe(n))
		return
	case len(n.Content) == 0:
		d.errorf(at, "no services: the services: list is empty")
		return
	}
	var entries []*entry
	for _, item := range n.Content {
		if e := l.entry(item); e != nil {
			entries = append(entries, e)
		}
	}

	types := make(map[string]int)
	names := make(map[string]*yaml.Node)
	for _, e := range entries {
		if e.svc.Type != "" {
			types[e.svc.Type]++
		}
		if !e.named || e.svc.Name == "" {
			continue
		}
		if first, dup := names[e.svc.Name]; dup {
			d.errs = append(d.errs, e.svc.Errorf(e.nameNode, "duplicate service name %s (first at line %d)", quote(e.svc.Name), first.Line))
			continue
		}
		names[e.svc.Name] = e.nameNode
	}
	for _, e := range entries {
		s := e.svc
		if e.named || s.Type == "" {
			continue
		}
		switch {
		case types[s.Type] > 1:
			d.errs = append(d.errs, s.Errorf(nil, "service of type %s needs a name: more than one service has that type", quote(s.Type)))
		case names[s.Type] != nil:
			d.errs = append(d.errs, s.Errorf(nil, "service of type %s needs a name: another service is named %s", quote(s.Type), quote(s.Type)))
		case len(s.Type) > maxNameLen || !serviceName().MatchString(s.Type):
			d.errs = append(d.errs, s.Errorf(nil, "service of type %s needs a name", quote(s.Type)))
		default:
			s.Name = s.Type
		}
	}
	for _, e := range entries {
		l.file.Services = append(l.file.Services, e.svc)
	}
	l.conflicts(l.eps)
}

// entry loads one service entry; nil when it is not a mapping.
func (l *loader) entry(item *yaml.Node) *entry {
	n := resolve(item)
	if n == nil || n.Kind != yaml.MappingNode {
		if n == nil || !l.d.isBad(n) {
			l.d.errorf(item, "expected a service (a mapping with a type: key), got %s", describe(n))
		}
		return nil
	}
	s := &Service{Node: n, Pos: Pos{File: l.file.Path, Line: item.Line, Col: item.Column}, file: l.file}
	e := &entry{svc: s}
	var nameNode, typeNode, listenNode, failureNode *yaml.Node
	rules := map[string]*yaml.Node{}
	for _, p := range l.d.pairs(n, func(k string) bool { return commonKeys[k] }, false) {
		if accessKeys[p.key.Value] {
			rules[p.key.Value] = p.val
		}
		switch p.key.Value {
		case "name":
			nameNode = p.val
		case "type":
			typeNode = p.val
		case "listen":
			listenNode = p.val
		case "on_failure":
			failureNode = p.val
		}
	}
	// Decode the common keys, collecting errors under the service's label.
	d := &Decoder{file: l.file, node: n}
	var name, typ string
	if nameNode != nil {
		e.named, e.nameNode = true, nameNode
		d.value(nameNode, reflect.ValueOf(&name).Elem())
	}
	if typeNode != nil {
		d.value(typeNode, reflect.ValueOf(&typ).Elem())
	}
	s.Name, s.Type = name, typ
	d.service = s.label()
	// Report duplicate common keys now that the label is known.
	d.pairs(n, func(k string) bool { return commonKeys[k] }, true)
	for _, err := range d.errs {
		if ce, ok := err.(*Error); ok && ce.Service == "" {
			ce.Service = d.service
		}
	}
	if nn := resolve(nameNode); nn != nil && !d.isBad(nn) && nn.Kind == yaml.ScalarNode {
		switch {
		case name == "":
			d.errorf(nameNode, "service name must not be empty")
		case len(name) > maxNameLen:
			d.errorf(nameNode, "service name %s is longer than %d characters", quote(name), maxNameLen)
			s.Name = ""
		case !serviceName().MatchString(name):
			d.errorf(nameNode, "bad service name %s: use lowercase letters, digits and -, starting with a letter or digit", quote(name))
			s.Name = ""
		}
	}
	switch tn := resolve(typeNode); {
	case typeNode == nil:
		d.errorf(n, "missing type: every service needs a type:")
	case d.isBad(tn):
	case typ == "" && tn.Kind == yaml.ScalarNode:
		d.errorf(typeNode, "type must not be empty")
	case typ != "" && l.opts.KnownType != nil && !l.opts.KnownType(typ):
		d.errorf(typeNode, "unknown service type %s", quote(typ))
	}
	if listenNode != nil {
		d.value(listenNode, reflect.ValueOf(&s.Listen).Elem())
		for _, p := range listenItems(d, listenNode) {
			p.owner = s
			l.eps = append(l.eps, p)
		}
	}
	for _, key := range []string{"allow", "deny"} {
		if rules[key] != nil {
			access(d, s, key, rules[key])
		}
	}
	s.OnFailure = OnFailureRestart
	if failureNode != nil {
		var v string
		before := len(d.errs)
		d.value(failureNode, reflect.ValueOf(&v).Elem())
		switch fn := resolve(failureNode); {
		case fn == nil || d.isBad(fn) || len(d.errs) > before:
		case v == OnFailureRestart || v == OnFailureExit:
			s.OnFailure = v
		default:
			d.errorf(failureNode, "on_failure: expected %s or %s, got %s", OnFailureRestart, OnFailureExit, quote(v))
		}
	}
	l.d.errs = append(l.d.errs, d.errs...)
	return e
}
