package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// Decoder decodes nodes of one application file strictly: into structs by
// their yaml tags, reporting every unknown key, wrong type and bad value as
// an *Error at its node, and carrying on to find them all.
//
// Supported targets: structs (fields named by `yaml:"name"`, else the
// lowercased field name; `yaml:",inline"` merges a nested struct's keys;
// `yaml:"-"` skips a field; `yaml:"name,required"` reports the key's
// absence), pointers (allocated), strings (any scalar's text), bools
// (true/false/yes/no/on/off), integers of every size with range checks,
// floats, time.Duration ("30s"; a bare number is an error but for 0), slices
// (from a list), maps, any (as yaml.v3 decodes it) and Unmarshaler
// implementations. Scalars are read from their text, so quoting does not
// matter. Null leaves the target as it was, so a target may be pre-filled
// with defaults; merge keys (<<: *anchor) are honoured.
type Decoder struct {
	file    *File
	service string     // the service errors are about, "" for none
	node    *yaml.Node // where errors without a node are reported

	// skipNode's keys in skip are not decoded (a service entry's common keys).
	skipNode *yaml.Node
	errs     []error
}

// Dir returns the directory relative paths are resolved against.
func (d *Decoder) Dir() string {
	if d.file == nil {
		return "."
	}
	return d.file.Dir
}

// Errorf returns an *Error at node n.
func (d *Decoder) Errorf(n *yaml.Node, format string, args ...any) error {
	return &Error{Pos: d.pos(n), Service: d.service, Msg: fmt.Sprintf(format, args...)}
}

// Decode strictly decodes n into v, a non-nil pointer, and returns every
// problem found, joined. Unmarshaler implementations use it for their parts.
func (d *Decoder) Decode(n *yaml.Node, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return d.Errorf(n, "internal error: Decode needs a non-nil pointer, not %T", v)
	}
	sub := &Decoder{file: d.file, service: d.service, node: n, skipNode: d.skipNode}
	if n == nil {
		return nil
	}
	sub.value(n, rv.Elem())
	return errors.Join(sub.errs...)
}

// pos returns n's position, or the decoder's node's when n has none.
func (d *Decoder) pos(n *yaml.Node) Pos {
	var p Pos
	if d.file != nil {
		p.File = d.file.Path
	}
	for _, m := range []*yaml.Node{n, d.node} {
		if m != nil && m.Line > 0 {
			p.Line, p.Col = m.Line, m.Column
			break
		}
	}
	return p
}

func (d *Decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, d.Errorf(n, format, args...))
}

// add records err, as returned by an Unmarshaler for node n: each *Error in
// it as is (with this decoder's service if it names none), anything else
// as an *Error at n.
func (d *Decoder) add(n *yaml.Node, err error) {
	for _, e := range flatten(nil, err) {
		var ce *Error
		if errors.As(e, &ce) {
			if ce.Service == "" && d.service != "" {
				c := *ce
				c.Service = d.service
				ce = &c
			}
			d.errs = append(d.errs, ce)
			continue
		}
		d.errs = append(d.errs, d.Errorf(n, "%s", e.Error()))
	}
}

// isBad reports whether n's ${VAR} substitution failed (already reported).
func (d *Decoder) isBad(n *yaml.Node) bool {
	return d.file != nil && d.file.bad[n]
}

// resolve follows aliases and documents to the node that holds the value;
// nil for an empty document.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && i < 1000; i++ {
		switch n.Kind {
		case yaml.AliasNode:
			n = n.Alias
		case yaml.DocumentNode:
			if len(n.Content) == 0 {
				return nil
			}
			n = n.Content[0]
		default:
			return n
		}
	}
	return nil
}

// isNull reports whether n is YAML null (~, null, or nothing).
func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

var durationType = reflect.TypeFor[time.Duration]()

// value decodes at (an alias or the node itself) into v, which is settable.
func (d *Decoder) value(at *yaml.Node, v reflect.Value) {
	n := resolve(at)
	if n == nil || d.isBad(n) || isNull(n) {
		return
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(at, v.Elem())
		return
	}
	if v.CanAddr() {
		if u, ok := v.Addr().Interface().(Unmarshaler); ok {
			d.add(at, u.UnmarshalConfig(d, n))
			return
		}
		if h := foreign.Load(); h != nil {
			if ok, err := (*h)(d, n, v.Addr().Interface()); ok {
				d.add(at, err)
				return
			}
		}
	}
	if v.Type() == durationType {
		d.duration(at, n, v)
		return
	}
	switch v.Kind() {
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.errorf(at, "expected a string, got %s", describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		d.bool(at, n, v)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		d.int(at, n, v)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		d.uint(at, n, v)
	case reflect.Float32, reflect.Float64:
		d.float(at, n, v)
	case reflect.Slice:
		d.slice(at, n, v)
	case reflect.Map:
		d.mapping(at, n, v)
	case reflect.Struct:
		d.structure(at, n, v)
	case reflect.Interface:
		if v.NumMethod() != 0 {
			d.errorf(at, "internal error: cannot decode into %s", v.Type())
			return
		}
		var x any
		if err := n.Decode(&x); err != nil {
			d.errorf(at, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	default:
		d.errorf(at, "internal error: cannot decode into %s", v.Type())
	}
}

// scalar returns n's text, or reports that a scalar (what) was expected.
func (d *Decoder) scalar(at, n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(at, "expected %s, got %s", what, describe(n))
		return "", false
	}
	return n.Value, true
}

func (d *Decoder) bool(at, n *yaml.Node, v reflect.Value) {
	s, ok := d.scalar(at, n, "true or false")
	if !ok {
		return
	}
	switch strings.ToLower(s) {
	case "true", "yes", "on":
		v.SetBool(true)
	case "false", "no", "off":
		v.SetBool(false)
	default:
		d.errorf(at, "expected true or false, got %s", describe(n))
	}
}

func (d *Decoder) int(at, n *yaml.Node, v reflect.Value) {
	s, ok := d.scalar(at, n, "an integer")
	if !ok {
		return
	}
	i, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, v.Type().Bits())
	switch {
	case errors.Is(err, strconv.ErrRange):
		d.errorf(at, "%s is out of range (%d to %d)", quote(s),
			int64(-1)<<(v.Type().Bits()-1), uint64(1)<<(v.Type().Bits()-1)-1)
	case err != nil:
		d.errorf(at, "expected an integer, got %s", describe(n))
	default:
		v.SetInt(i)
	}
}

func (d *Decoder) uint(at, n *yaml.Node, v reflect.Value) {
	s, ok := d.scalar(at, n, "a non-negative integer")
	if !ok {
		return
	}
	s = strings.ReplaceAll(s, "_", "")
	u, err := strconv.ParseUint(strings.TrimPrefix(s, "+"), 0, v.Type().Bits())
	switch {
	case errors.Is(err, strconv.ErrRange):
		d.errorf(at, "%s is out of range (0 to %d)", quote(n.Value), uint64(math.MaxUint64)>>(64-v.Type().Bits()))
	case err != nil:
		d.errorf(at, "expected a non-negative integer, got %s", describe(n))
	default:
		v.SetUint(u)
	}
}

func (d *Decoder) float(at, n *yaml.Node, v reflect.Value) {
	s, ok := d.scalar(at, n, "a number")
	if !ok {
		return
	}
	var f float64
	switch strings.ToLower(s) {
	case ".inf", "+.inf":
		f = math.Inf(1)
	case "-.inf":
		f = math.Inf(-1)
	case ".nan":
		f = math.NaN()
	default:
		var err error
		f, err = strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), v.Type().Bits())
		if err != nil || strings.ContainsAny(s, "xXpP") || strings.EqualFold(strings.TrimLeft(s, "+-"), "inf") ||
			strings.EqualFold(strings.TrimLeft(s, "+-"), "infinity") || strings.EqualFold(s, "nan") {
			d.errorf(at, "expected a number, got %s", describe(n))
			return
		}
	}
	v.SetFloat(f)
}

func (d *Decoder) duration(at, n *yaml.Node, v reflect.Value) {
	s, ok := d.scalar(at, n, `a duration such as "30s"`)
	if !ok {
		return
	}
	t, err := time.ParseDuration(s)
	if err != nil {
		if _, ferr := strconv.ParseFloat(s, 64); ferr == nil {
			d.errorf(at, `duration %s is missing a unit: write "%ss", "%sms", "%sm"...`, quote(s), s, s, s)
		} else {
			d.errorf(at, `bad duration %s: want a number and a unit, such as "30s", "500ms" or "1m30s"`, quote(s))
		}
		return
	}
	v.SetInt(int64(t))
}

func (d *Decoder) slice(at, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(at, "expected a list, got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, c := range n.Content {
		d.value(c, s.Index(i))
	}
	v.Set(s)
}

// pair is one key and its value in a mapping.
type pair struct{ key, val *yaml.Node }

// pairs lists the string-keyed pairs of mapping n, merge keys (<<: *anchor,
// or a list of them) expanded: explicit keys win over merged ones, and
// earlier merges over later ones. Keys for which keep returns false are
// left out (keep nil keeps all). With report, duplicate keys, non-string
// keys and bad merges are errors; otherwise they are silently dropped.
func (d *Decoder) pairs(n *yaml.Node, keep func(string) bool, report bool) []pair {
	var out []pair
	seen := make(map[string]*yaml.Node)
	d.collect(n, keep, report, seen, &out, 0)
	return out
}

func (d *Decoder) collect(n *yaml.Node, keep func(string) bool, report bool, seen map[string]*yaml.Node, out *[]pair, merged int) {
	if merged > maxDepth { // cannot happen after checkLimits; guards hand-made trees
		return
	}
	var merges []*yaml.Node
	local := make(map[string]bool)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		kr := resolve(k)
		if kr == nil || kr.Kind != yaml.ScalarNode {
			if report {
				d.errorf(k, "keys must be strings, got %s", describe(kr))
			}
			continue
		}
		if kr.Tag != "!!str" && kr.ShortTag() == "!!merge" && kr.Style&yaml.TaggedStyle == 0 {
			merges = append(merges, val)
			continue
		}
		if keep != nil && !keep(kr.Value) {
			continue
		}
		if first, dup := seen[kr.Value]; dup {
			if local[kr.Value] && report && merged == 0 {
				d.errorf(k, "duplicate key %s (first at line %d)", quote(kr.Value), first.Line)
			}
			continue
		}
		seen[kr.Value] = k
		local[kr.Value] = true
		*out = append(*out, pair{k, val})
	}
	for _, m := range merges {
		mr := resolve(m)
		if mr == nil {
			continue
		}
		var sources []*yaml.Node
		switch mr.Kind {
		case yaml.MappingNode:
			sources = []*yaml.Node{mr}
		case yaml.SequenceNode:
			for _, s := range mr.Content {
				if sr := resolve(s); sr != nil && sr.Kind == yaml.MappingNode {
					sources = append(sources, sr)
				} else if report && merged == 0 {
					d.errorf(s, "a merge (<<) takes mappings, got %s", describe(sr))
				}
			}
		default:
			if report && merged == 0 {
				d.errorf(m, "a merge (<<) takes a mapping or a list of mappings, got %s", describe(mr))
			}
		}
		for _, s := range sources {
			d.collect(s, keep, report, seen, out, merged+1)
		}
	}
}

// keepFor returns the key filter for mapping n: the skip keys of a service
// entry are left to the loader.
func (d *Decoder) keepFor(n *yaml.Node) func(string) bool {
	if n != d.skipNode || n == nil {
		return nil
	}
	return func(k string) bool { return !commonKeys[k] }
}

func (d *Decoder) mapping(at, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.errorf(at, "expected a mapping, got %s", describe(n))
		return
	}
	t := v.Type()
	if v.IsNil() {
		v.Set(reflect.MakeMap(t))
	}
	for _, p := range d.pairs(n, d.keepFor(n), true) {
		key := reflect.New(t.Key()).Elem()
		if t.Key().Kind() == reflect.String {
			key.SetString(resolve(p.key).Value)
		} else {
			before := len(d.errs)
			d.value(p.key, key)
			if len(d.errs) > before {
				continue
			}
		}
		elem := reflect.New(t.Elem()).Elem()
		if old := v.MapIndex(key); old.IsValid() {
			elem.Set(old)
		}
		d.value(p.val, elem)
		v.SetMapIndex(key, elem)
	}
}

func (d *Decoder) structure(at, n *yaml.Node, v reflect.Value) {
	info := structInfoFor(v.Type())
	if info.err != nil {
		d.errorf(at, "internal error: %v", info.err)
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(at, "expected a mapping, got %s", describe(n))
		return
	}
	present := make(map[string]bool)
	for _, p := range d.pairs(n, d.keepFor(n), true) {
		k := resolve(p.key).Value
		f, ok := info.fields[k]
		if !ok {
			d.errorf(p.key, "unknown key %s%s", quote(k), suggest(k, info.names))
			continue
		}
		present[k] = true
		d.value(p.val, fieldByIndex(v, f.index))
	}
	for _, name := range info.names {
		if info.fields[name].required && !present[name] {
			d.errorf(at, "missing key %s", quote(name))
		}
	}
}

// fieldByIndex returns the field of struct v at index, allocating the
// inline struct pointers on the way.
func fieldByIndex(v reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}

// structInfo is the keys a struct type decodes.
type structInfo struct {
	fields map[string]fieldInfo
	names  []string // in field order
	err    error    // the type cannot be decoded (a programming error)
}

type fieldInfo struct {
	index    []int
	required bool
}

var structInfos sync.Map // reflect.Type → *structInfo

func structInfoFor(t reflect.Type) *structInfo {
	if info, ok := structInfos.Load(t); ok {
		return info.(*structInfo)
	}
	info := &structInfo{fields: make(map[string]fieldInfo)}
	info.add(t, nil, 0)
	cached, _ := structInfos.LoadOrStore(t, info)
	return cached.(*structInfo)
}

func (info *structInfo) add(t reflect.Type, index []int, depth int) {
	if depth > 16 {
		info.err = fmt.Errorf("%s: inline structs nest too deep", t)
		return
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		var inline, required bool
		for _, o := range strings.Split(opts, ",") {
			switch o {
			case "inline":
				inline = true
			case "required":
				required = true
			}
		}
		idx := append(append([]int(nil), index...), i)
		if inline {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() != reflect.Struct || (!f.IsExported() && f.Type.Kind() == reflect.Pointer) {
				info.err = fmt.Errorf("%s.%s: inline needs a struct or an exported pointer to one", t, f.Name)
				return
			}
			info.add(ft, idx, depth+1)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if _, dup := info.fields[name]; dup {
			info.err = fmt.Errorf("%s.%s: key %q is used by two fields", t, f.Name, name)
			return
		}
		info.fields[name] = fieldInfo{index: idx, required: required}
		info.names = append(info.names, name)
	}
}
