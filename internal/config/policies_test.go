package config

import (
	"strings"
	"testing"
)

func TestPoliciesReportEveryMistakeAtItsKey(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // errors, in order; none: valid
	}{
		{name: "valid", yaml: "{idle_timeout: 5m, max_connections: 10, read_limit: 64KiB}"},
		{name: "negative max_connections", yaml: "{max_connections: -1}",
			want: []string{`app.yaml:4:33: service "x": policies: max_connections must not be negative`}},
		{name: "value errors beside type errors", yaml: "{max_connections_per_peer: -1, idle_timeout: 5, colour: red}",
			want: []string{`4:42: service "x": policies: max_connections_per_peer`, `4:60: service "x": duration "5"`, `4:63: service "x": unknown key "colour"`}},
		{name: "negative idle_timeout", yaml: "{idle_timeout: -1s}", want: []string{`4:30: service "x": policies: idle_timeout`}},
		{name: "rate", yaml: "{max_connection_rate_per_peer: 10/s}"},
		{name: "bad rate", yaml: "{max_connection_rate_per_peer: 10/week}", want: []string{`4:46: service "x": bad rate "10/week"`}},
		{name: "rate as a list", yaml: "{max_connection_rate_per_peer: [1]}", want: []string{`4:46: service "x": expected a rate such as 10/s`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "services:\n  - name: x\n    type: echo\n    policies: " + tt.yaml + "\n    listen: tcp:0\n"
			f, err := Parse("app.yaml", t.TempDir(), []byte(src), Options{})
			if err != nil {
				t.Fatal(err)
			}
			var opts struct {
				Policies Policies `yaml:"policies"`
			}
			err = f.Services[0].Decode(&opts)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			got := Join(err).Error()
			rest := got
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("errors lack %q (in order):\n%s", w, got)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}
