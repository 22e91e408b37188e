package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Limits on what an application file may hold, checked before anything is decoded.
const (
	maxFileSize = 4 << 20 // bytes
	maxDepth    = 64      // nesting levels of mappings and lists, aliases expanded
	maxNodes    = 100_000 // nodes in the document once every alias is expanded
)

// yamlLine matches yaml.v3's "yaml: line N: message". This and the
// other patterns of the package are compiled on first use, not at start-up.
var yamlLine = lazyRegexp(`^yaml: line (\d+): (.*)$`)

// yamlUnknownAnchor matches yaml.v3's error for an alias without anchor.
var yamlUnknownAnchor = lazyRegexp(`^yaml: unknown anchor '(.*)' referenced$`)

// lazyRegexp returns a function that compiles expr on its first call.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// parserMessages are yaml.v3's parser errors (as opposed to its scanner's),
// whose line numbers it reports counting from 0.
var parserMessages = []string{
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"did not find expected '-' indicator",
	"did not find expected <document start>",
	"did not find expected <stream-start>",
	"did not find expected key",
	"did not find expected node content",
	"found duplicate %TAG directive",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found undefined tag handle",
}

// parseYAML parses the single document in data. It returns a nil node for a
// document with no content, and a syntax error as one *Error.
func parseYAML(path string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(path, data, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntaxError(path, data, err)
	case resolve(&next) != nil && !isNull(resolve(&next)):
		return nil, &Error{Pos: Pos{File: path, Line: max(next.Line, 1), Col: max(next.Column, 1)},
			Msg: `a second YAML document ("---") is not allowed: an application file holds one`}
	}
	root := resolve(&doc)
	if root == nil || isNull(root) {
		return nil, nil
	}
	return root, nil
}

// syntaxError turns a yaml.v3 parse error into an *Error at its line
// (column 1: yaml.v3 does not give one), correcting yaml.v3's numbering.
func syntaxError(path string, data []byte, err error) *Error {
	msg, line, col := err.Error(), 1, 1
	if m := yamlLine().FindStringSubmatch(msg); m != nil {
		msg = m[2]
		if n, err := strconv.Atoi(m[1]); err == nil && n > 0 {
			line = n
			for _, pm := range parserMessages {
				if msg == pm {
					line++
					break
				}
			}
		}
	} else if m := yamlUnknownAnchor().FindStringSubmatch(msg); m != nil {
		// No position given: point at the first use of the alias.
		if i := bytes.Index(data, []byte("*"+m[1])); i >= 0 {
			line = bytes.Count(data[:i], []byte("\n")) + 1
			col = i - bytes.LastIndexByte(data[:i], '\n')
		}
		msg = "unknown anchor " + quote(m[1]) + " referenced by an alias"
	}
	// A line past the end (yaml.v3 counts the end of the stream as a line of its own) is the last line.
	lines := bytes.Count(data, []byte("\n"))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		lines++
	}
	line = max(min(line, lines), 1)
	msg = strings.TrimPrefix(msg, "yaml: ")
	// yaml.v3 reports where the enclosing node starts, often lines above
	// the mistake: find the mistake itself in the text.
	switch msg {
	case "found a tab character that violates indentation", "found character that cannot start any token":
		if l, c, ok := findTab(data, line); ok {
			line, col = l, c
			msg = "a tab character in the indentation (YAML indents with spaces only)"
		}
	case "did not find expected key", "did not find expected '-' indicator",
		"block sequence entries are not allowed in this context":
		if l, c, ok := findDedent(data, line); ok {
			msg = fmt.Sprintf("bad indentation: column %d lines up with no enclosing block (%s)", c, msg)
			line, col = l, c
		}
	}
	return &Error{Pos: Pos{File: path, Line: line, Col: col}, Msg: "syntax error: " + msg}
}

// sourceLines splits data into lines without their line ends.
func sourceLines(data []byte) []string {
	return strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
}

// findTab returns the position of the first tab in a line's indentation,
// from line from on.
func findTab(data []byte, from int) (line, col int, ok bool) {
	for i, l := range sourceLines(data) {
		if i+1 < from {
			continue
		}
		for j := 0; j < len(l) && (l[j] == ' ' || l[j] == '\t'); j++ {
			if l[j] == '\t' {
				return i + 1, j + 1, true
			}
		}
	}
	return 0, 0, false
}

// findDedent returns the first line, from line from on, whose
// indentation fits no enclosing block — it moves left to a column no open
// block starts at, or lines up with a list without being a "- " entry —
// and that indentation's column. Block scalars and flow collections
// spanning lines are skipped; a line inside them is not judged.
func findDedent(data []byte, from int) (line, col int, ok bool) {
	type level struct {
		indent       int
		seq, mapping bool // "- " entries, other lines start at indent
	}
	var levels []level
	scalar := -1   // the indentation of the key of an open block scalar (| or >)
	flow := 0      // open [ and { brackets
	emptyKey := -1 // the indentation of the line before when it is "key:" alone
	for i, l := range sourceLines(data) {
		text := strings.TrimLeft(l, " ")
		indent := len(l) - len(text)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if scalar >= 0 {
			if indent > scalar {
				continue
			}
			scalar = -1
		}
		if flow > 0 {
			flow = max(flow+flowDepth(text), 0)
			continue
		}
		dash := text == "-" || strings.HasPrefix(text, "- ")
		popped := false
		for len(levels) > 0 && levels[len(levels)-1].indent > indent {
			levels, popped = levels[:len(levels)-1], true
		}
		var top *level
		if len(levels) > 0 {
			top = &levels[len(levels)-1]
		}
		switch {
		case top != nil && top.indent == indent:
			// A list's entries line up; a list may start at its key's
			// column only right below that key.
			if (!dash && !top.mapping || dash && top.mapping && !top.seq && emptyKey != indent) && i+1 >= from {
				return i + 1, indent + 1, true
			}
			top.seq = top.seq || dash
			top.mapping = top.mapping || !dash
		case popped && i+1 >= from:
			return i + 1, indent + 1, true
		default:
			levels = append(levels, level{indent: indent, seq: dash, mapping: !dash})
		}
		// Each "- " opens a block whose content starts after it.
		for at := indent; strings.HasPrefix(text, "- "); {
			rest := strings.TrimLeft(text[1:], " ")
			at += len(text) - len(rest)
			text = rest
			if text != "" {
				inner := text == "-" || strings.HasPrefix(text, "- ")
				levels = append(levels, level{indent: at, seq: inner, mapping: !inner})
			}
		}
		emptyKey = -1
		if t := strings.TrimRight(stripComment(text), " "); strings.HasSuffix(t, ":") {
			emptyKey = indent
		}
		if t := strings.TrimRight(stripComment(text), " "); t != "" && strings.ContainsAny(t[len(t)-1:], "|>") ||
			len(t) > 1 && strings.ContainsAny(t[len(t)-2:len(t)-1], "|>") && strings.ContainsAny(t[len(t)-1:], "+-0123456789") {
			scalar = indent
		}
		flow = max(flowDepth(text), 0)
	}
	return 0, 0, false
}

// stripComment drops a trailing " # comment".
func stripComment(s string) string {
	if i := strings.Index(s, " #"); i >= 0 {
		return s[:i]
	}
	return s
}

// flowDepth counts the [ and { a line opens minus those it closes, outside quotes.
func flowDepth(s string) int {
	depth := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || s[i-1] == ' '):
			return depth
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
		}
	}
	return depth
}

// extent is what a node amounts to once its aliases are expanded.
type extent struct {
	size, height int
	busy         bool // being measured: meeting it again means an alias cycle
}

// limits measures a document against maxDepth and maxNodes. Each node is
// measured once (aliases share their anchor's extent), so a "billion
// laughs" document costs time in proportion to its text, not its expansion.
type limits struct {
	path string
	seen map[*yaml.Node]*extent
}

// checkLimits rejects a document that nests too deep, whose aliases expand
// to too many nodes, or whose aliases refer to themselves.
func checkLimits(path string, root *yaml.Node) error {
	l := &limits{path: path, seen: make(map[*yaml.Node]*extent)}
	_, err := l.measure(root, 1)
	return err
}

func (l *limits) errorf(n *yaml.Node, msg string) error {
	return &Error{Pos: Pos{File: l.path, Line: max(n.Line, 1), Col: max(n.Column, 1)}, Msg: msg}
}

// measure returns n's extent, n being at the given depth (1 for the root).
func (l *limits) measure(n *yaml.Node, depth int) (*extent, error) {
	if depth > maxDepth {
		return nil, l.errorf(n, "document nests deeper than "+strconv.Itoa(maxDepth)+" levels")
	}
	if e, ok := l.seen[n]; ok {
		if e.busy { // only an alias can lead back into a node being measured
			return nil, l.errorf(n, "an alias refers to a node that contains it")
		}
		if depth+e.height-1 > maxDepth {
			return nil, l.errorf(n, "document nests deeper than "+strconv.Itoa(maxDepth)+" levels once aliases are expanded")
		}
		return e, nil
	}
	e := &extent{size: 1, height: 1, busy: true}
	l.seen[n] = e
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return nil, l.errorf(n, "alias *"+n.Value+" has no anchor")
		}
		if t, ok := l.seen[n.Alias]; ok && t.busy {
			return nil, l.errorf(n, "alias *"+n.Value+" refers to a node that contains it")
		}
		t, err := l.measure(n.Alias, depth)
		if err != nil {
			return nil, err
		}
		e.size, e.height = t.size, t.height
	} else {
		for _, c := range n.Content {
			ce, err := l.measure(c, depth+1)
			if err != nil {
				return nil, err
			}
			e.size += ce.size
			e.height = max(e.height, ce.height+1)
			if e.size > maxNodes {
				return nil, l.errorf(c, "document too large: more than "+strconv.Itoa(maxNodes)+" nodes once aliases are expanded")
			}
		}
	}
	e.busy = false
	return e, nil
}
