package web

import "github.com/twistd-go/twistd/plugin"

// KeyFlags names the `twistd web` flags behind the entry keys not named
// like them, for the one-liner's errors (--logfile: ...).
func (maker) KeyFlags() map[string][]string {
	return map[string][]string{
		"listen":      {"listen", "port", "https", "certificate", "privkey"},
		"access_log":  {"logfile"},
		"add_headers": {"add-header"},
		"mime_types":  {"add-mime-type"},
		"listing":     {"no-listing"},
		"compress":    {"no-compress"},
	}
}

var _ plugin.FlagNamer = maker{}
