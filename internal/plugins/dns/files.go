package dns

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/miekg/dns"
)

// files are a service's data files and what was last read from them. A
// file is read again only when its modification time or size changed, as
// CoreDNS's hosts plugin does.
type files struct {
	hosts string   // "" for none
	zones []string // zone file paths

	stamps  map[string]stamp  // path → stamp of the last good read
	origins map[string]string // zone path → its zone's origin
}

type stamp struct {
	mod  time.Time
	size int64
}

func newFiles(hosts string, zones []string) *files {
	return &files{hosts: hosts, zones: zones, stamps: make(map[string]stamp), origins: make(map[string]string)}
}

func statStamp(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}, err
	}
	return stamp{mod: fi.ModTime(), size: fi.Size()}, nil
}

// load reads the files into a new store. With old (a reload), unchanged
// files keep old's data, and a file that fails keeps its old data too:
// the errors are returned beside a usable store. Without old (the first
// load), any error fails the load. When nothing changed, old is returned.
func (f *files) load(old *store, first bool) (*store, error) {
	st := &store{zones: make(map[string]*Zone, len(f.zones))}
	changed := old == nil
	var errs []error
	for _, path := range f.zones {
		s, err := statStamp(path)
		if err == nil && old != nil && s == f.stamps[path] {
			st.zones[f.origins[path]] = old.zones[f.origins[path]]
			continue
		}
		var z *Zone
		if err == nil {
			z, err = readZone(path)
		}
		if err != nil {
			if first {
				return nil, err
			}
			errs = append(errs, err)
			if origin, ok := f.origins[path]; ok && old != nil {
				st.zones[origin] = old.zones[origin]
			}
			continue
		}
		if _, dup := st.zones[z.Origin]; dup {
			err := fmt.Errorf("%s: zone %s is already served from another file", path, z.Origin)
			if first {
				return nil, err
			}
			errs = append(errs, err)
			continue
		}
		if prev, ok := f.origins[path]; ok && prev != z.Origin {
			delete(st.zones, prev)
		}
		st.zones[z.Origin] = z
		f.origins[path], f.stamps[path] = z.Origin, s
		changed = true
	}
	if f.hosts != "" {
		s, err := statStamp(f.hosts)
		switch {
		case err == nil && old != nil && s == f.stamps[f.hosts]:
			st.hosts = old.hosts
		default:
			var h *Hosts
			if err == nil {
				h, err = readHosts(f.hosts)
			}
			if err != nil {
				if first {
					return nil, err
				}
				errs = append(errs, err)
				st.hosts = old.hosts
				break
			}
			st.hosts, f.stamps[f.hosts] = h, s
			changed = true
		}
	}
	if !changed {
		return old, errors.Join(errs...)
	}
	return st, errors.Join(errs...)
}

func readZone(path string) (*Zone, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("zone file: %w", err)
	}
	defer fh.Close()
	return ParseZone(fh, "", path)
}

func readHosts(path string) (*Hosts, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("hosts file: %w", err)
	}
	defer fh.Close()
	h, err := ParseHosts(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

// isDomain reports whether s is a valid domain name.
func isDomain(s string) (int, bool) { return dns.IsDomainName(s) }

// canonical returns s lower case and fully qualified.
func canonical(s string) string { return dns.CanonicalName(s) }
