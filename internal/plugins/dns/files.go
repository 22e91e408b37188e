package dns

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/miekg/dns"

	"github.com/twistd-go/twistd/service"
)

// files are a service's data files and what was last read from them. A
// file is read again only when its modification time or size changed, as
// CoreDNS's hosts plugin does.
type files struct {
	hosts string   // "" for none
	zones []string // zone file paths

	stamps  map[string]stamp  // path → stamp of the last good read
	origins map[string]string // zone path → its zone's origin

	// warnings are what loads found suspect but served, until taken.
	warnings []string
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
		f.warnings = append(f.warnings, z.Warnings()...)
		if old != nil {
			if prev := old.zones[z.Origin]; prev != nil && prev.Serial() == z.Serial() && !sameRecords(prev, z) {
				f.warnings = append(f.warnings, fmt.Sprintf("%s: zone %s changed but its serial %d did not: secondaries keep the old data",
					path, z.Origin, z.Serial()))
			}
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

// takeWarnings returns the warnings of the loads since the last call.
func (f *files) takeWarnings() []string {
	w := f.warnings
	f.warnings = nil
	return w
}

// sameRecords reports whether a and b hold the same records in the same order.
func sameRecords(a, b *Zone) bool {
	ra, rb := a.Records(), b.Records()
	if len(ra) != len(rb) {
		return false
	}
	for i := range ra {
		if !dns.IsDuplicate(ra[i], rb[i]) || ra[i].Header().Ttl != rb[i].Header().Ttl {
			return false
		}
	}
	return true
}

// warningLogger is the dns service as the maker returns it: the Server,
// and the warnings of its data files (mixed TTLs, a zone changed without
// its serial) logged once a logger is known — at start for the first
// load, after each reload for the rest.
type warningLogger struct{ *Server }

func (w warningLogger) Start(ctx context.Context, env *service.Env) error {
	if err := w.Server.Start(ctx, env); err != nil {
		return err
	}
	w.logWarnings()
	return nil
}

func (w warningLogger) Reload(ctx context.Context) error {
	err := w.Server.Reload(ctx)
	w.logWarnings()
	return err
}

func (w warningLogger) logWarnings() {
	w.dataMu.Lock()
	warnings := w.files.takeWarnings()
	w.dataMu.Unlock()
	for _, msg := range warnings {
		w.log.Warn(msg)
	}
}

var (
	_ service.Service  = warningLogger{}
	_ service.Reloader = warningLogger{}
)

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
	if len(h.Bad) > 0 {
		// Loud, as dnsmasq's "bad address at /etc/hosts line N": a line
		// skipped in silence is a name that mysteriously does not resolve.
		const most = 10
		errs := make([]error, 0, min(len(h.Bad), most)+1)
		for _, b := range h.Bad[:min(len(h.Bad), most)] {
			errs = append(errs, fmt.Errorf("%s:%s", path, b))
		}
		if len(h.Bad) > most {
			errs = append(errs, fmt.Errorf("%s: %d more bad lines", path, len(h.Bad)-most))
		}
		return nil, errors.Join(errs...)
	}
	return h, nil
}

// isDomain reports whether s is a valid domain name.
func isDomain(s string) (int, bool) { return dns.IsDomainName(s) }

// canonical returns s lower case and fully qualified.
func canonical(s string) string { return dns.CanonicalName(s) }
