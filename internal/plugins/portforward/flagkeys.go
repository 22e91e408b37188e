package portforward

import "github.com/twistd-go/twistd/plugin"

// KeyFlags names the `twistd portforward` flags behind the entry keys not
// named like them, for the one-liner's errors (--host, --dest_port: ...).
func (maker) KeyFlags() map[string][]string {
	return map[string][]string{
		"connect":         {"host", "dest_port"},
		"connect_timeout": {"connect-timeout"},
	}
}

var _ plugin.FlagNamer = maker{}
