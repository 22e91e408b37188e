package web

import (
	"mime"
	"path"
	"strings"
)

// types picks a file's Content-Type: the service's own table first, then
// the system's (mime.TypeByExtension), then the configured default; ""
// means sniff the content.
type types struct {
	own         map[string]string // lower-case extension → type
	defaultType string
}

func newTypes(own map[string]string, defaultType string) *types {
	t := &types{own: make(map[string]string, len(own)), defaultType: defaultType}
	for ext, typ := range own {
		t.own[strings.ToLower(ext)] = typ
	}
	return t
}

// byName returns the type for a file name, "" when only sniffing can tell.
func (t *types) byName(name string) string {
	ext := path.Ext(name)
	if ext == "" {
		return t.defaultType
	}
	if typ, ok := t.own[ext]; ok {
		return typ
	}
	if typ, ok := t.own[strings.ToLower(ext)]; ok {
		return typ
	}
	if typ := mime.TypeByExtension(ext); typ != "" {
		return typ
	}
	return t.defaultType
}

// compressible reports whether a content type gains from compression:
// text, JSON, JavaScript, CSS, SVG, XML and WebAssembly.
func compressible(typ string) bool {
	if i := strings.IndexByte(typ, ';'); i >= 0 {
		typ = typ[:i]
	}
	typ = strings.TrimSpace(strings.ToLower(typ))
	switch {
	case strings.HasPrefix(typ, "text/"),
		strings.HasSuffix(typ, "+json"), strings.HasSuffix(typ, "+xml"):
		return true
	}
	switch typ {
	case "application/json", "application/javascript", "application/x-javascript",
		"application/ecmascript", "application/xml", "application/wasm",
		"image/svg+xml", "application/manifest+json", "application/xhtml+xml":
		return true
	}
	return false
}
