package web

import (
	"errors"
	"path"
	"strings"
)

// errBadPath is a request path that names no file below the root: it has
// a ".." segment, a backslash, a control character (NUL included) or an
// encoded slash, or it does not start with a slash. It answers 400.
var errBadPath = errors.New("bad request path")

// cleanPath turns a request's decoded path p (URL.Path) and its raw form
// (URL.RawPath, "" when p's default encoding is the one sent) into a name
// relative to the site's root, in os.Root's slash-separated form: "." for
// the root itself, never absolute, never with "..", "." or empty segments.
// dirSlash reports whether p ended with a slash.
//
// Requests are refused rather than cleaned where cleaning would guess:
// any ".." segment (%2e%2e decodes to one), a backslash or encoded slash
// (another OS's or another layer's separator), and control characters.
// The common already-clean path is returned without allocating.
func cleanPath(p, raw string) (name string, dirSlash bool, err error) {
	if len(p) == 0 || p[0] != '/' {
		return "", false, errBadPath
	}
	if raw != "" && hasEncodedSlash(raw) {
		return "", false, errBadPath
	}
	clean := true
	segStart := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) {
			c := p[i]
			if c < 0x20 || c == 0x7f || c == '\\' {
				return "", false, errBadPath
			}
			if c != '/' {
				continue
			}
		}
		seg := p[segStart:i]
		switch seg {
		case "..":
			return "", false, errBadPath
		case ".":
			clean = false
		case "":
			if i < len(p) { // "//": an empty segment inside the path
				clean = false
			}
		}
		segStart = i + 1
	}
	dirSlash = len(p) > 1 && p[len(p)-1] == '/'
	if clean {
		name = p[1:]
		if dirSlash {
			name = name[:len(name)-1]
		}
		if name == "" {
			name = "."
		}
		return name, dirSlash, nil
	}
	name = strings.TrimPrefix(path.Clean(p), "/")
	if name == "" {
		name = "."
	}
	// A path made only of "." segments and slashes names the root, which
	// is a directory: keep the request's own trailing-slash status.
	return name, dirSlash || strings.HasSuffix(p, "/."), nil
}

// hasEncodedSlash reports whether raw has %2f or %5c (either case).
func hasEncodedSlash(raw string) bool {
	for i := 0; i+2 < len(raw); i++ {
		if raw[i] != '%' {
			continue
		}
		switch raw[i+1 : i+3] {
		case "2f", "2F", "5c", "5C":
			return true
		}
	}
	return false
}

// hidden reports whether any segment of name (as cleanPath returns it)
// matches one of the patterns (path.Match syntax, validated at load).
func hidden(name string, patterns []string) bool {
	if len(patterns) == 0 || name == "." {
		return false
	}
	for name != "" {
		seg := name
		if i := strings.IndexByte(name, '/'); i >= 0 {
			seg, name = name[:i], name[i+1:]
		} else {
			name = ""
		}
		for _, pat := range patterns {
			if ok, _ := path.Match(pat, seg); ok {
				return true
			}
		}
	}
	return false
}
