package plugins

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/twistd-go/twistd"

// TestBuiltinsUseOnlyThePublicAPI keeps the built-in plugins honest: each
// imports (in its code and its tests) the public packages, third-party
// modules and the standard library, never an internal package and never
// another plugin, so the public API is known to be enough to write one.
func TestBuiltinsUseOnlyThePublicAPI(t *testing.T) {
	out, err := exec.Command("go", "list", "-f",
		`{{.ImportPath}} {{join .Imports " "}} {{join .TestImports " "}} {{join .XTestImports " "}}`,
		module+"/internal/plugins/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	bad := forbidden(string(out))
	for _, b := range bad {
		t.Error(b)
	}
	if len(bad) == 0 && !strings.Contains(string(out), module+"/internal/plugins/web ") {
		t.Fatalf("go list did not list the web plugin:\n%s", out)
	}
}

func TestForbiddenCatchesInternalAndPluginImports(t *testing.T) {
	list := module + "/internal/plugins/echo fmt " + module + "/protocol " + module + "/internal/plugins/tcp\n" +
		module + "/internal/plugins/web go.uber.org/zap " + module + "/internal/config\n" +
		module + "/internal/plugins/dns github.com/miekg/dns " + module + "/plugin\n" +
		module + "/internal/plugins/all " + module + "/internal/plugins/dns\n" +
		module + "/internal/plugins " + module + "/internal/reactor\n"
	got := forbidden(list)
	want := []string{
		module + "/internal/plugins/echo imports " + module + "/internal/plugins/tcp",
		module + "/internal/plugins/web imports " + module + "/internal/config",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("forbidden =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// forbidden reads go list lines (a package, then its imports) and returns
// each import a built-in plugin may not make. The builder (this package)
// and all/ (the link list of the built-ins) are machinery, not plugins.
func forbidden(list string) []string {
	var bad []string
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		pkg := fields[0]
		if pkg == module+"/internal/plugins" || pkg == module+"/internal/plugins/all" {
			continue
		}
		seen := map[string]bool{}
		for _, imp := range fields[1:] {
			if seen[imp] || imp == pkg {
				continue
			}
			seen[imp] = true
			if imp == module+"/internal" || strings.HasPrefix(imp, module+"/internal/") || imp == module+"/cmd" || strings.HasPrefix(imp, module+"/cmd/") {
				bad = append(bad, pkg+" imports "+imp)
			}
		}
	}
	return bad
}
