package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// root is the module's root, from this package's directory.
const root = "../../.."

// TestAPIBaseline fails on any difference between the public API and the
// baseline in api/*.txt. A line of the baseline no longer in the API is an
// incompatible change (a removal, or a changed signature, which shows as
// a removal and an addition); a line of the API not in the baseline is an
// addition, recorded with `make api` in the same commit.
func TestAPIBaseline(t *testing.T) {
	current, err := Dump(root)
	if err != nil {
		t.Fatal(err)
	}
	baseline, err := readBaseline(filepath.Join(root, "api"), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(baseline) == 0 {
		t.Fatal("no baseline in api/*.txt")
	}
	for _, l := range current {
		if strings.Contains(l, "// INTERNAL TYPE") {
			t.Errorf("a public declaration names an internal package's type: %s", l)
		}
	}
	removed, added := compare(baseline, current)
	if len(removed) > 0 {
		t.Errorf("incompatible API change: %d line(s) of the baseline (api/*.txt) removed or changed:\n- %s",
			len(removed), strings.Join(removed, "\n- "))
	}
	if len(added) > 0 {
		t.Errorf("API added: %d line(s) not in the baseline; run `make api` and commit api/ with the change:\n+ %s",
			len(added), strings.Join(added, "\n+ "))
	}
}

// compare returns the baseline's lines missing from current, and
// current's lines missing from the baseline, each sorted.
func compare(baseline map[string]bool, current []string) (removed, added []string) {
	have := make(map[string]bool, len(current))
	for _, l := range current {
		have[l] = true
		if !baseline[l] {
			added = append(added, l)
		}
	}
	for l := range baseline {
		if !have[l] {
			removed = append(removed, l)
		}
	}
	sort.Strings(removed)
	sort.Strings(added)
	return removed, added
}

func TestDumpOfASmallPackage(t *testing.T) {
	lines, err := packageAPI("testdata/small", "example.com/small", []string{"small.go"})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	want := []string{
		"pkg example.com/small, const A Kind = iota",
		"pkg example.com/small, const B Kind",
		"pkg example.com/small, const Max = 10",
		"pkg example.com/small, func New(n int, opts ...string) (*T, error)",
		"pkg example.com/small, method (*T) Do(ctx context.Context) error",
		"pkg example.com/small, method (List[E]) Len() int",
		"pkg example.com/small, type I interface",
		"pkg example.com/small, type I interface, M(x int) string",
		"pkg example.com/small, type I interface, embedded io.Reader",
		"pkg example.com/small, type I interface, unexported methods",
		"pkg example.com/small, type Kind int",
		"pkg example.com/small, type List[E any] []E",
		"pkg example.com/small, type T struct",
		"pkg example.com/small, type T struct, Name string",
		"pkg example.com/small, type T struct, embedded sync.Mutex",
		"pkg example.com/small, var ErrX",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestPublicPackagesHaveDocsAndExamples: each public package says what it
// is in a package comment and shows itself in at least one Example
// (which go doc and pkg.go.dev display, and go test runs).
func TestPublicPackagesHaveDocsAndExamples(t *testing.T) {
	dirs, err := publicDirs(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 5 {
		t.Fatalf("only %d public packages found: %v", len(dirs), dirs)
	}
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		var hasDoc, hasExample bool
		for _, file := range files {
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			test := strings.HasSuffix(file, "_test.go")
			if !test && f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
				hasDoc = true
			}
			if !test {
				continue
			}
			for _, d := range f.Decls {
				if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Example") {
					hasExample = true
				}
			}
		}
		if !hasDoc {
			t.Errorf("%s: no package documentation", dir)
		}
		if !hasExample {
			t.Errorf("%s: no Example function", dir)
		}
	}
}
