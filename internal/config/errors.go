package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Join flattens errs (errors.Join values and nils included), drops exact
// duplicates, sorts the *Error values by file, line and column after any
// other errors (which keep their order), and joins the result with
// errors.Join. It returns nil when there is nothing to report. Use it to
// merge Load's errors with those of the plugins' Service.Decode calls.
func Join(errs ...error) error {
	var flat []error
	for _, err := range errs {
		flat = flatten(flat, err)
	}
	if len(flat) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(flat))
	out := flat[:0]
	for _, err := range flat {
		key := err.Error()
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, aok := out[i].(*Error)
		b, bok := out[j].(*Error)
		switch {
		case !aok || !bok:
			return !aok && bok
		case a.Pos.File != b.Pos.File:
			return a.Pos.File < b.Pos.File
		case a.Pos.Line != b.Pos.Line:
			return a.Pos.Line < b.Pos.Line
		default:
			return a.Pos.Col < b.Pos.Col
		}
	})
	return errors.Join(out...)
}

// flatten appends the leaves of err (unwrapping errors.Join values) to dst.
func flatten(dst []error, err error) []error {
	if err == nil {
		return dst
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if _, isErr := err.(*Error); !isErr {
			for _, e := range j.Unwrap() {
				dst = flatten(dst, e)
			}
			return dst
		}
	}
	return append(dst, err)
}

// errTooLarge is the error for a file over maxFileSize.
func errTooLarge(path string) error {
	return fmt.Errorf("%s: file is larger than %d MiB", path, maxFileSize>>20)
}

// describe names what a node holds, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		return quote(n.Value)
	}
	return "nothing"
}

// quote quotes s for a message, shortened to a readable length.
func quote(s string) string {
	const max = 60
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "..."
	}
	return strconv.Quote(s)
}

// suggest returns ` (did you mean "x"?)` when one of names is a likely
// misspelling of key, else "".
func suggest(key string, names []string) string {
	best, bestDist := "", 3
	if len(key) <= 3 {
		bestDist = 2
	}
	for _, name := range names {
		if d := editDistance(key, name); d < bestDist {
			best, bestDist = name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes;
// long inputs are not compared.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
