package web

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/twistd-go/twistd/plugin"
)

// Flags registers `twistd web`'s flags (SPEC §1) and returns the function
// that turns them into an application-file entry with the same keys a
// file would use, so the one-liner and the file run the same code.
func (maker) Flags(fs *pflag.FlagSet) func() (map[string]any, error) {
	listen := fs.StringArray("listen", nil, "endpoint to listen on (repeatable), e.g. tcp:8080 or ssl:8443:privateKey=key.pem")
	port := fs.StringP("port", "p", "", "port or endpoint to listen on, as twistd: 8080 (tcp:8080) or tcp:8080:interface=127.0.0.1")
	root := fs.String("path", ".", "directory to serve")
	index := fs.StringArrayP("index", "i", nil, "index file name, tried in order (repeatable; default index.html, index.htm)")
	logfile := fs.StringP("logfile", "l", "", "access log in Combined Log Format (- for standard output)")
	https := fs.Int("https", -1, "also serve HTTPS (and HTTP/2) on this port; needs --certificate and --privkey")
	cert := fs.StringP("certificate", "c", "", "certificate file (PEM) for --https")
	key := fs.StringP("privkey", "k", "", "private key file (PEM) for --https")
	headers := fs.StringArray("add-header", nil, `header added to every response, "Name: value" (repeatable)`)
	mimeType := fs.StringP("mime-type", "m", "", "content type of files with an unknown extension (default: sniff the content)")
	addMime := fs.StringArray("add-mime-type", nil, "extra extension mapping EXT=TYPE, e.g. .wasm=application/wasm (repeatable)")
	ignoreExt := fs.StringArray("ignore-ext", nil, "extension tried when a name does not exist, e.g. .html (repeatable)")
	noListing := fs.Bool("no-listing", false, "answer 404 for directories without an index file instead of listing them")
	noCompress := fs.Bool("no-compress", false, "serve neither precompressed siblings nor gzip on the fly")
	return func() (map[string]any, error) {
		eps := append([]string(nil), *listen...)
		if fs.Changed("port") {
			ep, err := plugin.PortEndpoint("port", *port)
			if err != nil {
				return nil, err
			}
			eps = append(eps, ep)
		}
		if len(eps) == 0 {
			eps = []string{"tcp:8080"} // twistd web's default, kept beside --https as twistd does
		}
		if *https >= 0 {
			if *https > 65535 {
				return nil, fmt.Errorf("--https %d: not a port number", *https)
			}
			if *key == "" {
				return nil, fmt.Errorf("--https needs --privkey (and --certificate)")
			}
			ep := "ssl:" + strconv.Itoa(*https) + ":privateKey=" + escapeColons(*key)
			if *cert != "" {
				ep += ":certKey=" + escapeColons(*cert)
			}
			eps = append(eps, ep)
		} else if *cert != "" || *key != "" {
			return nil, fmt.Errorf("--certificate and --privkey need --https PORT")
		}
		entry := map[string]any{"type": "web", "listen": eps, "path": *root}
		if len(*index) > 0 {
			entry["index"] = *index
		}
		if *logfile != "" {
			entry["access_log"] = *logfile
		}
		if len(*headers) > 0 {
			m := make(map[string]string, len(*headers))
			for _, h := range *headers {
				name, value, ok := strings.Cut(h, ":")
				if !ok || strings.TrimSpace(name) == "" {
					return nil, fmt.Errorf("--add-header %q: want \"Name: value\"", h)
				}
				m[strings.TrimSpace(name)] = strings.TrimSpace(value)
			}
			entry["add_headers"] = m
		}
		if *mimeType != "" {
			entry["mime_type"] = *mimeType
		}
		if len(*addMime) > 0 {
			m := make(map[string]string, len(*addMime))
			for _, a := range *addMime {
				ext, typ, ok := strings.Cut(a, "=")
				if !ok {
					return nil, fmt.Errorf("--add-mime-type %q: want EXT=TYPE", a)
				}
				if !strings.HasPrefix(ext, ".") {
					ext = "." + ext
				}
				m[ext] = typ
			}
			entry["mime_types"] = m
		}
		if len(*ignoreExt) > 0 {
			entry["ignore_ext"] = *ignoreExt
		}
		if *noListing {
			entry["listing"] = false
		}
		if *noCompress {
			entry["compress"] = false
		}
		return entry, nil
	}
}

// escapeColons escapes a path for an endpoint string (`\:` is a colon).
func escapeColons(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return strings.ReplaceAll(s, ":", `\:`)
}
