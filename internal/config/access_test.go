package config

import (
	"strings"
	"testing"
	"time"
)

func TestAccessRulesAreDecodedAtTheirPlace(t *testing.T) {
	tests := []struct {
		name        string
		yaml        string
		allow, deny string   // the decoded rules, joined by spaces
		want        []string // errors, in order; none: valid
	}{
		{name: "none", yaml: ""},
		{name: "list and scalar", yaml: "    allow: [10.0.0.0/8, 192.0.2.1, '2001:db8::/32', 10.0.0.0/8]\n    deny: 10.1.0.0/16\n",
			allow: "10.0.0.0/8 192.0.2.1/32 2001:db8::/32", deny: "10.1.0.0/16"},
		{name: "mapped", yaml: "    deny: ['::ffff:192.0.2.0/120', '::ffff:198.51.100.7']\n", deny: "192.0.2.0/24 198.51.100.7/32"},
		{name: "empty list", yaml: "    allow: []\n"},
		{name: "null", yaml: "    allow:\n"},
		{name: "bad items, each at its place", yaml: "    allow: [10.0.0.0/8, nope, 10.0.0.0/33]\n    deny:\n      - 192.168.1.10/24\n      - [a]\n",
			want: []string{`app.yaml:5:25: service "x": allow: "nope" is not an IP address`,
				`app.yaml:5:31: service "x": allow: "10.0.0.0/33" is not a CIDR prefix`,
				`app.yaml:7:9: service "x": deny: "192.168.1.10/24" has bits set past its /24: write 192.168.1.0/24`,
				`app.yaml:8:9: service "x": deny: expected a CIDR prefix (such as 10.0.0.0/8), got a list`}},
		{name: "a mapping", yaml: "    allow: {a: b}\n", want: []string{`app.yaml:5:12: service "x": allow: expected a CIDR prefix`}},
		{name: "duplicate key", yaml: "    deny: 10.0.0.1\n    deny: 10.0.0.2\n", want: []string{`app.yaml:6:5: service "x": duplicate key "deny"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "services:\n  - name: x\n    type: echo\n    listen: tcp:0\n" + tt.yaml
			f, err := Parse("app.yaml", t.TempDir(), []byte(src), Options{})
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				s := f.Services[0]
				if got := join(s.Allow); got != tt.allow {
					t.Errorf("allow %q, want %q", got, tt.allow)
				}
				if got := join(s.Deny); got != tt.deny {
					t.Errorf("deny %q, want %q", got, tt.deny)
				}
				// The plugin's own strict decoding does not see them.
				var none struct{}
				if err := s.Decode(&none); err != nil {
					t.Errorf("plugin decode: %v", err)
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

func join(p Prefixes) string {
	var s []string
	for _, x := range p {
		s = append(s, x.String())
	}
	return strings.Join(s, " ")
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want Rate
		err  string
	}{
		{in: "10/s", want: Rate{N: 10, Per: time.Second}},
		{in: "100/m", want: Rate{N: 100, Per: time.Minute}},
		{in: "1 / h", want: Rate{N: 1, Per: time.Hour}},
		{in: "0.5/s", want: Rate{N: 0.5, Per: time.Second}},
		{in: "25", want: Rate{N: 25, Per: time.Second}},
		{in: "0", want: Rate{}},
		{in: "0/m", want: Rate{}},
		{in: "10/d", err: "the period must be s, m or h"},
		{in: "fast", err: "want a number per period"},
		{in: "NaN/s", err: "want a number per period"},
		{in: "-1/s", err: "negative"},
		{in: "", err: "want a number per period"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRate(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseRate(%q) = %v, %v; want error with %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseRate(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

// FuzzParseRate: never panics; an accepted rate is non-negative and finite.
func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"10/s", "1/h", "0", "0.5/m", "1e9/s", "-1/s", "x/s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err == nil && (r.N < 0 || r.N > 1e9 || r.N != r.N || (r.N == 0) != (r.Per == 0)) {
			t.Fatalf("ParseRate(%q) = %v", s, r)
		}
	})
}
