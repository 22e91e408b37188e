package config

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// expand replaces ${VAR} and ${VAR:-default} in s from lookup. The default
// is used when VAR is unset or empty, as in the shell; a set but empty VAR
// without a default gives "". $${ stands for a literal ${. Text without
// ${ is returned as is. Each problem (an unset variable, a malformed
// reference) is one message; s is returned unchanged when there is one.
func expand(s string, lookup func(string) (string, bool)) (string, []string) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	var problems []string
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				problems = append(problems, fmt.Sprintf(`unterminated "${" in %s (write $${ for a literal ${)`, quote(s)))
				return s, problems
			}
			ref := s[i+2 : i+2+end]
			i += 2 + end + 1
			name, def, hasDef := strings.Cut(ref, ":-")
			if !validVarName(name) {
				problems = append(problems, fmt.Sprintf("bad variable reference %s: want ${NAME} or ${NAME:-default}", quote("${"+ref+"}")))
				continue
			}
			if strings.Contains(def, "${") {
				problems = append(problems, fmt.Sprintf("bad variable reference %s: a default cannot hold another ${...}", quote("${"+ref+"}")))
				continue
			}
			v, ok := lookup(name)
			switch {
			case hasDef && v == "":
				v = def
			case !ok:
				problems = append(problems, fmt.Sprintf("environment variable %s is not set (write ${%s:-default} to give a default)", name, name))
			}
			b.WriteString(v)
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	if len(problems) > 0 {
		return s, problems
	}
	return b.String(), nil
}

// validVarName reports whether s is a shell variable name: [A-Za-z_][A-Za-z0-9_]*.
func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// substituter performs ${VAR} substitution over a document's values.
type substituter struct {
	path   string
	lookup func(string) (string, bool)
	bad    map[*yaml.Node]bool
	done   map[*yaml.Node]bool
	errs   []error
}

// walk substitutes every scalar value under n (mapping keys excepted),
// attributing problems to the service named label. Aliases are not
// followed: their anchors are walked where they are defined.
func (s *substituter) walk(n *yaml.Node, label string) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			s.walk(c, label)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			s.walk(n.Content[i], label)
		}
	case yaml.ScalarNode:
		s.scalar(n, label)
	}
}

// scalar substitutes one scalar, once. A plain (untagged, unquoted or
// quoted) scalar whose text changed is retyped from its new text, so
// "port: ${PORT}" is a number when PORT is one; a result that would read as
// null stays a string (an empty ${PIDFILE} still means "").
func (s *substituter) scalar(n *yaml.Node, label string) {
	if s.done[n] {
		return
	}
	s.done[n] = true
	v, problems := expand(n.Value, s.lookup)
	for _, p := range problems {
		s.errs = append(s.errs, &Error{Pos: Pos{File: s.path, Line: n.Line, Col: n.Column}, Service: label, Msg: p})
	}
	if len(problems) > 0 {
		s.bad[n] = true
		return
	}
	if v == n.Value {
		return
	}
	n.Value = v
	if n.Style&yaml.TaggedStyle == 0 {
		retyped := yaml.Node{Kind: yaml.ScalarNode, Value: v}
		if tag := retyped.ShortTag(); tag != "!!null" && tag != "!!merge" {
			n.Tag, n.Style = "", 0
		} else {
			n.Tag = "!!str"
		}
	}
}
