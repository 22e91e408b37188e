package main

import (
	"fmt"
	"go/build"
	gotoken "go/token"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestPublicTestsUseOnlyThePublicAPI keeps the public packages' examples
// and tests to what a user can import: go doc shows an Example's code as
// the way to do a thing, and a user's module cannot import internal/.
func TestPublicTestsUseOnlyThePublicAPI(t *testing.T) {
	module, err := modulePath(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := publicDirs(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 5 {
		t.Fatalf("only %d public packages found: %v", len(dirs), dirs)
	}
	for _, dir := range dirs {
		bad, err := internalTestImports(dir, module)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bad {
			t.Errorf("%s: a public package's test imports an internal package; use the public API (package reactor runs services)", b)
		}
	}
}

func TestInternalTestImportsCatchesBoth(t *testing.T) {
	got, err := internalTestImports("testdata/leaky", "example.com/leaky")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"testdata/leaky/inner_test.go:6:2 imports example.com/leaky/internal/engine",
		"testdata/leaky/leaky_test.go:6:2 imports example.com/leaky/internal/engine",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// internalTestImports returns, as file:line:col, each import of one of
// module's internal packages by the test files (in-package and _test
// package) of the package in dir.
func internalTestImports(dir, module string) ([]string, error) {
	ctxt := build.Default
	ctxt.GOOS, ctxt.GOARCH, ctxt.CgoEnabled = "linux", "amd64", false
	pkg, err := ctxt.ImportDir(dir, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	var bad []string
	for _, imports := range []map[string][]gotoken.Position{pkg.TestImportPos, pkg.XTestImportPos} {
		for imp, positions := range imports {
			if imp != module+"/internal" && !strings.HasPrefix(imp, module+"/internal/") {
				continue
			}
			for _, p := range positions {
				bad = append(bad, fmt.Sprintf("%s:%d:%d imports %s", filepath.ToSlash(filepath.Join(dir, filepath.Base(p.Filename))), p.Line, p.Column, imp))
			}
		}
	}
	sort.Strings(bad)
	return bad, nil
}
