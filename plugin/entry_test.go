package plugin

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// color is a third party's option type that decodes itself.
type color string

func (c *color) UnmarshalConfig(d *Decoder, n *yaml.Node) error {
	var s string
	if err := d.Decode(n, &s); err != nil {
		return err
	}
	if s != "red" && s != "green" {
		return d.Errorf(n, "color %q: want red or green", s)
	}
	*c = color(s)
	return nil
}

func TestForeignUnmarshalerAndValueTypes(t *testing.T) {
	dir := t.TempDir()
	doc := `services:
  - name: paint
    type: paint
    listen: tcp:0
    color: blue
    colors: [red, green]
    size: 64KiB
    rate: 10/m
    log: paint.log
    near: [10.0.0.0/8, 192.0.2.1, "::ffff:10.0.0.0/104", 10.0.0.0/8]
    far: 2001:db8::/32
    policies:
      max_connections: 5
      read_limit: 1MiB
      max_connection_rate_per_peer: 2/s
`
	entries, err := ParseEntries("app.yaml", dir, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	e := entries[0]
	if e.Name != "paint" || e.Type != "paint" || len(e.Listen) != 1 || !strings.HasPrefix(e.Pos, "app.yaml:2:") {
		t.Fatalf("entry = %+v", e)
	}
	var opts struct {
		Color    color    `yaml:"color"`
		Colors   []color  `yaml:"colors"`
		Size     Size     `yaml:"size"`
		Rate     Rate     `yaml:"rate"`
		Log      Path     `yaml:"log"`
		Near     Prefixes `yaml:"near"`
		Far      Prefixes `yaml:"far"`
		Policies Policies `yaml:"policies"`
	}
	err = e.Decode(&opts)
	if err == nil || err.Error() != `app.yaml:5:12: service "paint": color "blue": want red or green` {
		t.Fatalf("err = %v", err)
	}
	if len(opts.Colors) != 2 || opts.Colors[1] != "green" || opts.Size != 64<<10 ||
		opts.Rate != (Rate{N: 10, Per: time.Minute}) || string(opts.Log) != dir+"/paint.log" {
		t.Fatalf("opts = %+v", opts)
	}
	if fmt.Sprint(opts.Near) != "[10.0.0.0/8 192.0.2.1/32]" || fmt.Sprint(opts.Far) != "[2001:db8::/32]" {
		t.Fatalf("prefixes: near %v, far %v", opts.Near, opts.Far)
	}
	pc := opts.Policies.Config()
	if pc.MaxConnections != 5 || pc.ReadLimit != 1<<20 || pc.MaxConnectionRatePerPeer.N != 2 || pc.MaxConnectionRatePerPeer.Per != time.Second {
		t.Fatalf("policy config = %+v", pc)
	}
	if Access(e) != nil {
		t.Fatal("an entry without allow:/deny: has access rules")
	}
}
