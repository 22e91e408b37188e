package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInChroot(t *testing.T) {
	tests := []struct {
		name, root, path, want string
		outside                bool
	}{
		{name: "no chroot", root: "", path: "/srv/jail/www", want: "/srv/jail/www"},
		{name: "inside", root: "/srv/jail", path: "/srv/jail/www/index.html", want: "/www/index.html"},
		{name: "the jail itself", root: "/srv/jail", path: "/srv/jail", want: "/"},
		{name: "stdout", root: "/srv/jail", path: "-", want: "-"},
		{name: "outside", root: "/srv/jail", path: "/srv/www", outside: true},
		{name: "a sibling sharing the prefix", root: "/srv/jail", path: "/srv/jail2/x", outside: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := InChroot(tt.root, tt.path)
			if tt.outside {
				if err == nil || !strings.Contains(err.Error(), tt.path+" lies outside the chroot "+tt.root) {
					t.Fatalf("InChroot = %q, %v; want an error naming both", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("InChroot = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// The paths a service names are kept for OutsideChroot; Load inside a
// chroot wants an absolute path inside the jail. (Reading through a real
// chroot is test/privileges_chroot_test.go's.)
func TestOutsideChroot(t *testing.T) {
	jail := t.TempDir()
	os.Mkdir(filepath.Join(jail, "www"), 0o755)
	app := filepath.Join(jail, "app.yaml")
	os.WriteFile(app, []byte("services:\n  - {type: x, listen: 'tcp:0', log: www, out: "+filepath.Dir(jail)+"}\n"), 0o644)
	f, err := Load(app, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var opts struct {
		Log Path `yaml:"log"`
		Out Path `yaml:"out"`
	}
	if err := f.Services[0].Decode(&opts); err != nil {
		t.Fatal(err)
	}
	warn := f.OutsideChroot(jail)
	if len(warn) != 1 || !strings.Contains(warn[0].Error(), "app.yaml:2:") || !strings.Contains(warn[0].Error(), filepath.Dir(jail)+" lies outside the chroot") {
		t.Fatalf("OutsideChroot = %v; want one warning for out:", warn)
	}
	if got := f.OutsideChroot(""); got != nil {
		t.Fatalf("OutsideChroot without a chroot = %v", got)
	}
	if _, err := Load("app.yaml", Options{Chroot: jail}); err == nil || !strings.Contains(err.Error(), "must be absolute") {
		t.Fatalf("a relative path inside a chroot: %v", err)
	}
	if _, err := Load(filepath.Join(filepath.Dir(jail), "x.yaml"), Options{Chroot: jail}); err == nil || !strings.Contains(err.Error(), "lies outside the chroot") {
		t.Fatalf("a file outside the chroot: %v", err)
	}
}
