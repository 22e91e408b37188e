package config

import (
	"encoding/json"
	"fmt"
)

// Fingerprint is the entry's configuration in canonical form (keys sorted,
// comments and layout gone): two entries with the same fingerprint
// configure the same service, so a reload leaves it running.
func (s *Service) Fingerprint() string {
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
