// Package dns is the dns service: authoritative answers from BIND zone
// files and a hosts file, secondary zones kept by AXFR and NOTIFY, and
// forwarding with a cache for everything else (twistd dns, SPEC §1–2).
package dns

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/policy"
	"github.com/twistd-go/twistd/service"
)

func init() { plugin.Register(maker{}) }

// Defaults of the options.
const (
	defaultTTL            = 3600 // hosts-file answers, as twistd's
	defaultCacheSize      = 10000
	defaultTCPIdleTimeout = 10 * time.Second
	defaultResolvConf     = "/etc/resolv.conf"
	defaultAnswerCache    = 100000
)

// Options are the keys of a dns service entry beyond name, type and listen.
type Options struct {
	// HostsFile is an /etc/hosts-format file: A/AAAA answers and their PTR.
	HostsFile plugin.FilePath `yaml:"hosts_file"`
	// Zones are BIND master files served authoritatively.
	Zones []plugin.FilePath `yaml:"zones"`
	// Secondary zones are transferred from their primary and kept fresh.
	Secondary []SecondaryOptions `yaml:"secondary"`
	// Forward lists upstream servers (host:port) for names outside our data.
	Forward []string `yaml:"forward"`
	// ResolvConf names a resolv.conf whose nameservers are upstreams; Recursive
	// forwards to /etc/resolv.conf's when ResolvConf is not set.
	ResolvConf plugin.FilePath `yaml:"resolv_conf"`
	Recursive  bool            `yaml:"recursive"`
	// Cache keeps upstream answers; absent: no cache.
	Cache *CacheOptions `yaml:"cache"`
	// TTL of hosts-file answers, in seconds.
	TTL *uint32 `yaml:"ttl"`
	// AXFRAllow lists the networks (CIDR or address) allowed to transfer our zones.
	AXFRAllow []string `yaml:"axfr_allow"`
	// AlsoNotify lists secondaries (host:port, port 53 by default) sent a
	// NOTIFY when a zone file is loaded with a new serial: at start and on
	// reload.
	AlsoNotify []string `yaml:"also_notify"`
	// QueryLog logs every query: client, name, type, rcode, microseconds.
	QueryLog bool `yaml:"query_log"`
	// RRL limits responses per client network.
	RRL *RRLOptions `yaml:"rrl"`
	// Policies apply to the TCP connections, as to any stream service's;
	// idle_timeout defaults to 10s here (RFC 7766 §6.2.3 asks servers to
	// close idle connections soon).
	Policies plugin.Policies `yaml:"policies"`
}

// SecondaryOptions is one secondary zone and the primary it comes from.
type SecondaryOptions struct {
	Zone    string `yaml:"zone,required"`
	Primary string `yaml:"primary,required"`
}

// CacheOptions size the upstream-answer cache.
type CacheOptions struct {
	// Size is how many upstream answers are kept (default 10,000; 0 keeps
	// none), least recently used dropped first. Whatever the size, the
	// cache also stays under about 32 MiB of estimated memory. (Our own
	// packed answers have a cache of their own: 100,000 answers, at most
	// about 16 MiB.)
	Size *int `yaml:"size"`
}

// RRLOptions configure response-rate limiting.
type RRLOptions struct {
	// ResponsesPerSecond is the rate allowed to one client network (IPv4 /24, IPv6 /56).
	ResponsesPerSecond int `yaml:"responses_per_second,required"`
	// Slip: every slip-th limited response is sent truncated (TC) instead of
	// dropped, so real clients retry over TCP; 0 drops them all. Default 2.
	Slip *int `yaml:"slip"`
}

type maker struct{}

func (maker) Name() string { return "dns" }
func (maker) Description() string {
	return "DNS server: zone files, hosts file, secondary zones, forwarding and cache"
}

// New decodes and validates an entry, loads its zones and hosts file, and
// returns the service; a zone that does not parse is an error naming its
// file and line.
func (maker) New(s *plugin.Entry) (service.Service, error) {
	// A key of the wrong type leaves its zero value: the rest is still
	// checked, so every mistake of the entry is reported in one run.
	var opts Options
	decodeErr := s.Decode(&opts)
	cfg, err := opts.resolve(s)
	if err := plugin.Join(decodeErr, err); err != nil {
		return nil, err
	}
	srv, err := newServer(cfg)
	if err != nil {
		return nil, s.Errorf(keyNode(s.Node, "zones", "hosts_file"), "%v", err)
	}
	return warningLogger{srv}, nil
}

// settings are validated options, ready to build a server from.
type settings struct {
	hostsFile   string
	zones       []string
	secondaries []secondarySpec
	upstreams   []string
	cacheSize   int
	ttl         uint32
	axfrAllow   []netip.Prefix
	alsoNotify  []string // host:port
	queryLog    bool
	rrlRate     int
	rrlSlip     int
	policies    policy.Config
	answerCache int
}

type secondarySpec struct{ zone, primary string }

// resolve validates opts, reporting every problem at its key.
func (o Options) resolve(s *plugin.Entry) (settings, error) {
	cfg := settings{hostsFile: string(o.HostsFile), ttl: defaultTTL, queryLog: o.QueryLog,
		policies: o.Policies.Config(), answerCache: defaultAnswerCache}
	var errs []error
	bad := func(key string, format string, args ...any) {
		errs = append(errs, s.Errorf(keyNode(s.Node, key), format, args...))
	}
	for _, z := range o.Zones {
		cfg.zones = append(cfg.zones, string(z))
	}
	for _, sec := range o.Secondary {
		p, err := upstreamAddr(sec.Primary)
		if err != nil {
			bad("secondary", "secondary %s: primary: %v", sec.Zone, err)
			continue
		}
		if _, ok := isDomain(sec.Zone); !ok {
			bad("secondary", "secondary: %q is not a domain name", sec.Zone)
			continue
		}
		cfg.secondaries = append(cfg.secondaries, secondarySpec{zone: canonical(sec.Zone), primary: p})
	}
	for _, f := range o.Forward {
		u, err := upstreamAddr(f)
		if err != nil {
			bad("forward", "forward: %v", err)
			continue
		}
		cfg.upstreams = append(cfg.upstreams, u)
	}
	if o.ResolvConf != "" || o.Recursive {
		path := string(o.ResolvConf)
		if path == "" {
			path = defaultResolvConf
		}
		ups, err := readResolvConf(path)
		switch {
		case err != nil:
			bad(firstKey(o.ResolvConf != "", "resolv_conf", "recursive"), "%v", err)
		case len(ups) == 0:
			bad(firstKey(o.ResolvConf != "", "resolv_conf", "recursive"), "%s names no nameserver", path)
		}
		cfg.upstreams = append(cfg.upstreams, ups...)
	}
	if o.Cache != nil {
		cfg.cacheSize = defaultCacheSize
		if o.Cache.Size != nil {
			if *o.Cache.Size < 0 {
				bad("cache", "cache: size must not be negative")
			}
			cfg.cacheSize = *o.Cache.Size
		}
	}
	if o.TTL != nil {
		cfg.ttl = *o.TTL
	}
	for _, a := range o.AXFRAllow {
		p, err := parsePrefix(a)
		if err != nil {
			bad("axfr_allow", "axfr_allow: %v", err)
			continue
		}
		cfg.axfrAllow = append(cfg.axfrAllow, p)
	}
	for _, a := range o.AlsoNotify {
		t, err := upstreamAddr(a)
		if err != nil {
			bad("also_notify", "also_notify: %v", err)
			continue
		}
		cfg.alsoNotify = append(cfg.alsoNotify, t)
	}
	if o.RRL != nil {
		if o.RRL.ResponsesPerSecond <= 0 {
			bad("rrl", "rrl: responses_per_second must be positive")
		}
		cfg.rrlRate, cfg.rrlSlip = o.RRL.ResponsesPerSecond, 2
		if o.RRL.Slip != nil {
			if *o.RRL.Slip < 0 {
				bad("rrl", "rrl: slip must not be negative")
			}
			cfg.rrlSlip = *o.RRL.Slip
		}
	}
	// The policies checked their own values as they were decoded.
	if cfg.policies.IdleTimeout == 0 {
		cfg.policies.IdleTimeout = defaultTCPIdleTimeout
	}
	return cfg, plugin.Join(errs...)
}

func firstKey(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}

func readResolvConf(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("resolv.conf: %w", err)
	}
	defer f.Close()
	ups, err := parseResolvConf(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return ups, nil
}

// parsePrefix reads a network (10.0.0.0/8) or a single address.
func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither a network (10.0.0.0/8) nor an address", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// keyNode returns the value node of the first of keys present in the
// mapping m, nil if none is (errors then point at the entry).
func keyNode(m *yaml.Node, keys ...string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for _, k := range keys {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == k {
				return m.Content[i+1]
			}
		}
	}
	return nil
}

// Flags registers `twistd dns`'s flags (twistd's names) and returns the
// entry they describe: --port binds UDP and TCP on the same port.
func (maker) Flags(fs *pflag.FlagSet) func() (map[string]any, error) {
	iface := fs.StringP("interface", "i", "", "address to listen on (default: all)")
	port := fs.StringP("port", "p", "53", "port to listen on over UDP and TCP, or one endpoint to listen on (tcp:5353:interface=::1, ssl:853:privateKey=key.pem)")
	hosts := fs.String("hosts-file", "", "hosts file to serve A, AAAA and PTR answers from")
	zones := fs.StringArray("bindzone", nil, "BIND master file to serve (repeatable)")
	secondary := fs.StringArray("secondary", nil, "act as secondary for ZONE, transferring it from ADDR[:PORT]: ZONE@ADDR[:PORT] (repeatable)")
	recursive := fs.BoolP("recursive", "r", false, "forward other names to the nameservers of resolv.conf")
	resolvConf := fs.String("resolv-conf", "", "resolv.conf to take nameservers from (implies --recursive)")
	cacheOn := fs.BoolP("cache", "c", false, "cache upstream answers")
	verbose := fs.CountP("verbose", "v", "log every query")
	return func() (map[string]any, error) {
		listen, err := portEndpoints(*port, *iface)
		if err != nil {
			return nil, err
		}
		entry := map[string]any{"type": "dns", "listen": listen}
		if *hosts != "" {
			entry["hosts_file"] = *hosts
		}
		if len(*zones) > 0 {
			entry["zones"] = *zones
		}
		var secs []map[string]string
		for _, s := range *secondary {
			zone, primary, ok := strings.Cut(s, "@")
			if !ok || zone == "" || primary == "" {
				return nil, fmt.Errorf("--secondary %q: want ZONE@ADDR[:PORT]", s)
			}
			secs = append(secs, map[string]string{"zone": zone, "primary": primary})
		}
		if len(secs) > 0 {
			entry["secondary"] = secs
		}
		if *recursive {
			entry["recursive"] = true
		}
		if *resolvConf != "" {
			entry["resolv_conf"] = *resolvConf
		}
		if *cacheOn {
			entry["cache"] = map[string]any{"size": defaultCacheSize}
		}
		if *verbose > 0 {
			entry["query_log"] = true
		}
		return entry, nil
	}
}

// portEndpoints is what --port and --interface listen on: a port number
// binds UDP and TCP, as twistd dns does; an endpoint string binds just
// that endpoint, its interface given in it.
func portEndpoints(port, iface string) ([]string, error) {
	ep, err := plugin.PortEndpoint("port", port)
	if err != nil {
		return nil, err
	}
	if ep != "tcp:"+port {
		if iface != "" {
			return nil, fmt.Errorf("--interface: with an endpoint for --port, give the interface in it (%s:interface=%s)", port, iface)
		}
		return []string{ep}, nil
	}
	suffix := ""
	if iface != "" {
		suffix = ":interface=" + strings.ReplaceAll(iface, ":", `\:`)
	}
	return []string{"udp:" + port + suffix, "tcp:" + port + suffix}, nil
}

var _ plugin.Maker = maker{}
