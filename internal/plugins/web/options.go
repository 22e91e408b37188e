package web

import (
	"github.com/twistd-go/twistd/logfile"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/twistd-go/twistd/plugin"
)

// Options are the keys of a web service entry beyond name, type and listen
// (SPEC §2). DefaultOptions gives the values of keys the entry leaves out.
type Options struct {
	// openLog opens the access log (plugin.Entry.OpenLog); nil: logfile.Open.
	openLog func(path string) (*logfile.File, error)
	// Path is the site's root directory.
	Path plugin.DirPath `yaml:"path,required"`
	// Index names the files a directory is answered with, tried in order.
	Index []string `yaml:"index"`
	// Listing lists a directory without an index file; otherwise it is 404.
	Listing bool `yaml:"listing"`
	// Hidden are path.Match patterns: a path with a matching segment is
	// never served (404) nor listed.
	Hidden []string `yaml:"hidden"`
	// IgnoreExt are extensions tried when a name does not exist: with
	// [.html], /about serves about.html.
	IgnoreExt []string `yaml:"ignore_ext"`
	// MimeTypes maps extensions (".wasm") to content types, before the
	// system's table.
	MimeTypes map[string]string `yaml:"mime_types"`
	// MimeType is the type of files whose extension is unknown; "" sniffs
	// the content (http.DetectContentType), as Caddy does.
	MimeType string `yaml:"mime_type"`
	// AddHeaders are set on every response.
	AddHeaders map[string]string `yaml:"add_headers"`
	// AccessLog is a file for the Combined Log Format; "-" is standard
	// output; "" is no access log.
	AccessLog plugin.Path `yaml:"access_log"`
	// Compress serves precompressed .br/.gz siblings and gzips
	// compressible types on the fly.
	Compress bool `yaml:"compress"`
	// Proxy routes path prefixes to upstream servers.
	Proxy []ProxyRoute `yaml:"proxy"`
	// BasicAuth protects paths with an htpasswd file; nil is no auth.
	BasicAuth *BasicAuth `yaml:"basic_auth"`
	// Vhosts maps Host names to their own root; others get Path.
	Vhosts map[string]plugin.DirPath `yaml:"vhosts"`
	// Errors maps status codes to pages answered in their place.
	Errors map[int]plugin.FilePath `yaml:"errors"`
	// Timeouts bound slow clients.
	Timeouts Timeouts `yaml:"timeouts"`
	// MaxHeaderBytes bounds a request's header; beyond it, 431.
	MaxHeaderBytes plugin.Size `yaml:"max_header_bytes"`
	// Policies are the stream policies applied to every connection.
	Policies plugin.Policies `yaml:"policies"`
}

// ProxyRoute sends requests whose path starts with Prefix to To.
type ProxyRoute struct {
	Prefix string `yaml:"prefix,required"`
	To     string `yaml:"to,required"`
	// StripPrefix removes Prefix (but its final slash) from the cleaned
	// path before forwarding.
	StripPrefix bool `yaml:"strip_prefix"`
	// WebSocket forwards protocol upgrades (Upgrade: websocket); without
	// it the Upgrade header is dropped and the request goes as a plain one.
	WebSocket bool `yaml:"websocket"`
	// Timeouts bound the upstream; one left out (or zero) is its default.
	Timeouts ProxyTimeouts `yaml:"timeouts"`
}

// ProxyTimeouts bound a proxy route's upstream.
type ProxyTimeouts struct {
	// Connect bounds connecting to the upstream (nginx's
	// proxy_connect_timeout); past it, 504.
	Connect time.Duration `yaml:"connect"`
	// ResponseHeader bounds the wait for the upstream's response head
	// once the request is sent (nginx's proxy_read_timeout, 60s); past
	// it, 504.
	ResponseHeader time.Duration `yaml:"response_header"`
	// Idle closes a kept-alive upstream connection unused this long.
	Idle time.Duration `yaml:"idle"`
}

// Default proxy timeouts: a silent upstream is answered 504 after a
// minute, as nginx does.
const (
	DefaultProxyConnectTimeout        = 10 * time.Second
	DefaultProxyResponseHeaderTimeout = 60 * time.Second
	DefaultProxyIdleTimeout           = 90 * time.Second
)

// BasicAuth is HTTP basic authentication against an htpasswd file.
type BasicAuth struct {
	Realm    string          `yaml:"realm"`
	Htpasswd plugin.FilePath `yaml:"htpasswd,required"`
	// Paths are the protected prefixes; none protects the whole site.
	Paths []string `yaml:"paths"`
	// MaxFailuresPerPeer limits a client's failed logins (fail2ban in
	// process): past it, its requests with credentials get 429 and
	// Retry-After, without a password check, until its allowance
	// refills. Nil is 20/m (defaultMaxFailures); the zero Rate (written
	// 0) is no limit. IPv6 clients are limited by /64, as one host
	// usually has a whole /64 to pick addresses from.
	MaxFailuresPerPeer *plugin.Rate `yaml:"max_failures_per_peer"`
}

// defaultMaxFailures is the failed logins a client may make when
// max_failures_per_peer is left out: 20 at once, then one every 3s.
var defaultMaxFailures = plugin.Rate{N: 20, Per: time.Minute}

// Timeouts bound slow and stalled clients; zero disables one. The
// defaults are in nginx's range (DefaultOptions).
type Timeouts struct {
	// ReadHeader bounds the time from a request's first byte (or the
	// connection's start) to the end of its head (nginx's
	// client_header_timeout).
	ReadHeader time.Duration `yaml:"read_header"`
	// Read ends a request whose client sends nothing of its head or body
	// for this long (nginx's client_body_timeout): a body that never
	// comes no longer holds its connection.
	Read time.Duration `yaml:"read"`
	// Write drops a client that takes nothing of a response for this
	// long (nginx's send_timeout); a slow download that makes progress
	// goes on.
	Write time.Duration `yaml:"write"`
	// Idle closes a keep-alive connection with no request this long
	// (nginx's keepalive_timeout).
	Idle time.Duration `yaml:"idle"`
}

// Default timeouts (nginx: client_header_timeout and client_body_timeout
// 60s, send_timeout 60s, keepalive_timeout 75s; the header gets less).
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 75 * time.Second
)

// DefaultOptions returns the options of an entry that sets nothing.
func DefaultOptions() Options {
	return Options{
		Index:    []string{"index.html", "index.htm"},
		Listing:  true,
		Hidden:   []string{".*"},
		Compress: true,
		Timeouts: Timeouts{ReadHeader: DefaultReadHeaderTimeout, Read: DefaultReadTimeout,
			Write: DefaultWriteTimeout, Idle: DefaultIdleTimeout},
		MaxHeaderBytes: 64 << 10,
	}
}

// validate checks what decoding cannot, reporting each problem at its key.
func (o *Options) validate(s *plugin.Entry) []error {
	var errs []error
	at := s.Value
	for _, pat := range o.Hidden {
		if _, err := path.Match(pat, ""); err != nil {
			errs = append(errs, s.Errorf(at("hidden"), "hidden: bad pattern %q: %v", pat, err))
		}
	}
	for _, name := range o.Index {
		if name == "" || strings.ContainsAny(name, "/\\") || name == "." || name == ".." {
			errs = append(errs, s.Errorf(at("index"), "index: %q is not a file name", name))
		}
	}
	for i, ext := range o.IgnoreExt {
		if !strings.HasPrefix(ext, ".") {
			ext = "." + ext
			o.IgnoreExt[i] = ext
		}
		if ext == "." || strings.ContainsAny(ext, "/\\") {
			errs = append(errs, s.Errorf(at("ignore_ext"), "ignore_ext: %q is not an extension", ext))
		}
	}
	for ext, typ := range o.MimeTypes {
		if !strings.HasPrefix(ext, ".") || strings.ContainsAny(ext, "/\\") || !strings.Contains(typ, "/") {
			errs = append(errs, s.Errorf(at("mime_types"), "mime_types: %q: %q: want .ext: type/subtype", ext, typ))
		}
	}
	if o.MimeType != "" && !strings.Contains(o.MimeType, "/") {
		errs = append(errs, s.Errorf(at("mime_type"), "mime_type: %q is not a type/subtype", o.MimeType))
	}
	for name, v := range o.AddHeaders {
		if !validHeaderName(name) || strings.ContainsAny(v, "\r\n\x00") {
			errs = append(errs, s.Errorf(at("add_headers"), "add_headers: bad header %q", name))
		}
	}
	for i, p := range o.Proxy {
		pt := &o.Proxy[i].Timeouts
		if pt.Connect < 0 || pt.ResponseHeader < 0 || pt.Idle < 0 {
			errs = append(errs, s.Errorf(at("proxy"), "proxy[%d]: timeouts may not be negative", i))
		}
		if !strings.HasPrefix(p.Prefix, "/") {
			errs = append(errs, s.Errorf(at("proxy"), "proxy[%d]: prefix %q must start with /", i, p.Prefix))
		}
		u, err := url.Parse(p.To)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, s.Errorf(at("proxy"), "proxy[%d]: to %q: want an http:// or https:// URL", i, p.To))
		}
	}
	if a := o.BasicAuth; a != nil {
		for _, p := range a.Paths {
			if !strings.HasPrefix(p, "/") {
				errs = append(errs, s.Errorf(at("basic_auth"), "basic_auth: path %q must start with /", p))
			}
		}
		if strings.ContainsAny(a.Realm, "\"\r\n") {
			errs = append(errs, s.Errorf(at("basic_auth"), "basic_auth: realm may not hold quotes or newlines"))
		}
	}
	for code := range o.Errors {
		if code < 400 || code > 599 {
			errs = append(errs, s.Errorf(at("errors"), "errors: %d is not an error status (400-599)", code))
		}
	}
	if o.MaxHeaderBytes < 1024 || o.MaxHeaderBytes > 16<<20 {
		errs = append(errs, s.Errorf(at("max_header_bytes"), "max_header_bytes: %s is out of range (1KiB to 16MiB)", o.MaxHeaderBytes))
	}
	t := o.Timeouts
	if t.ReadHeader < 0 || t.Read < 0 || t.Write < 0 || t.Idle < 0 {
		errs = append(errs, s.Errorf(at("timeouts"), "timeouts: durations may not be negative"))
	}
	return errs
}

// validHeaderName reports whether name is an HTTP token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return http.CanonicalHeaderKey(name) != ""
}
