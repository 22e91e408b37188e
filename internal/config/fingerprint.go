package config

import (
	"encoding/json"
	"fmt"
)

// Fingerprint is the entry's configuration in canonical form (keys sorted,
// comments and layout gone): two entries with the same fingerprint
// configure the same service, so a reload leaves it running.
//
// An entry read inside a chroot names its files by other paths than the
// same entry read before it (Options.Chroot), so the two never match: the
// first reload after --chroot replaces each service by one that reads
// its files where the jail has them, and later reloads keep it.
func (s *Service) Fingerprint() string {
	if s.file != nil && s.file.root != "" {
		return s.fingerprint() + " in chroot " + s.file.root
	}
	return s.fingerprint()
}

func (s *Service) fingerprint() string {
	var v any
	if err := s.Node.Decode(&v); err != nil {
		return fmt.Sprintf("undecodable %p", s.Node)
	}
	b, err := json.Marshal(normalize(v))
	if err != nil {
		return fmt.Sprintf("unencodable %p", s.Node)
	}
	return string(b)
}

// normalize turns yaml's map[string]any and map[any]any into JSON-able values.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = normalize(x)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[fmt.Sprint(k)] = normalize(x)
		}
		return m
	case []any:
		for i, x := range v {
			v[i] = normalize(x)
		}
		return v
	}
	return v
}
