package plugin

import (
	"fmt"
	"strconv"

	"github.com/spf13/pflag"
)

// ListenFlags registers the one-liner flags of services that speak both
// TCP and UDP: --listen ENDPOINT... and --port N (-p), which binds N over
// both, as twistd's echo and tcp plugins do. The returned function gives
// the endpoints asked for, or defaults when neither flag was given (an
// error when defaults is empty).
func ListenFlags(fs *pflag.FlagSet, defaults ...string) func() ([]string, error) {
	listen := fs.StringArray("listen", nil, "endpoint to listen on (repeatable), e.g. tcp:7000 or udp:7000")
	port := fs.IntP("port", "p", -1, "listen on this port over both TCP and UDP")
	return func() ([]string, error) {
		eps := append([]string(nil), *listen...)
		if *port >= 0 {
			if *port > 65535 {
				return nil, fmt.Errorf("--port %d: not a port number", *port)
			}
			p := strconv.Itoa(*port)
			eps = append(eps, "tcp:"+p, "udp:"+p)
		}
		if len(eps) == 0 {
			if len(defaults) == 0 {
				return nil, fmt.Errorf("give --listen ENDPOINT or --port N")
			}
			eps = defaults
		}
		return eps, nil
	}
}

// FlagNamer is implemented by makers whose one-liner flags fill entry
// keys not named like them: KeyFlags maps such a key (zones) to the flags
// that fill it (bindzone), so an error about the key names the flag
// (--bindzone: ...), not a position in the generated entry. A flag named
// like its key (--path for path:, --hosts-file for hosts_file:) needs no
// entry.
type FlagNamer interface {
	KeyFlags() map[string][]string
}

// PortEndpoint reads a --port value as twistd does: a bare number is that
// TCP port ("8080" is tcp:8080), anything else an endpoint string
// (tcp:8080:interface=127.0.0.1, ssl:8443:privateKey=key.pem), checked
// with the entry.
func PortEndpoint(flag, value string) (string, error) {
	if value == "" {
		return "", fmt.Errorf("--%s: empty; want a port number or an endpoint such as tcp:8080", flag)
	}
	for _, c := range value {
		if c < '0' || c > '9' {
			return value, nil
		}
	}
	if n, err := strconv.Atoi(value); err != nil || n > 65535 {
		return "", fmt.Errorf("--%s %s: not a port number", flag, value)
	}
	return "tcp:" + value, nil
}
