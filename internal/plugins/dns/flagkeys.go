package dns

import "github.com/twistd-go/twistd/plugin"

// KeyFlags names the `twistd dns` flags behind the entry keys not named
// like them, for the one-liner's errors (--bindzone: no such file ...).
func (maker) KeyFlags() map[string][]string {
	return map[string][]string{
		"listen":    {"port", "interface"},
		"zones":     {"bindzone"},
		"query_log": {"verbose"},
	}
}

var _ plugin.FlagNamer = maker{}
