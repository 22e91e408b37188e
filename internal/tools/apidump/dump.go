package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/doc"
	"go/parser"
	"go/printer"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// skipped are the module's top-level directories that hold no public API.
var skipped = map[string]bool{"internal": true, "cmd": true, "test": true, "bench": true, "examples": true, "testdata": true, "api": true}

// Dump returns the exported API of the public packages of the module at
// root, sorted. The files are those a linux/amd64 build without cgo
// compiles, so the result does not depend on the machine running it.
func Dump(root string) ([]string, error) {
	modPath, err := modulePath(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, err
	}
	dirs, err := publicDirs(root)
	if err != nil {
		return nil, err
	}
	ctxt := build.Default
	ctxt.GOOS, ctxt.GOARCH, ctxt.CgoEnabled = "linux", "amd64", false
	var lines []string
	for _, p := range dirs {
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		pkg, err := ctxt.ImportDir(p, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
		importPath := modPath
		if rel != "." {
			importPath = path.Join(modPath, rel)
		}
		pl, err := packageAPI(p, importPath, pkg.GoFiles)
		if err != nil {
			return nil, err
		}
		lines = append(lines, pl...)
	}
	sort.Strings(lines)
	return lines, nil
}

// publicDirs returns the directories of the module's public packages:
// those with Go files for linux/amd64, not main, outside internal/ and
// the directories of skipped.
func publicDirs(root string) ([]string, error) {
	ctxt := build.Default
	ctxt.GOOS, ctxt.GOARCH, ctxt.CgoEnabled = "linux", "amd64", false
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		first, _, _ := strings.Cut(rel, "/")
		name := d.Name()
		if p != root && (skipped[first] || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "internal") {
			return filepath.SkipDir
		}
		if p != root {
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir // another module
			}
		}
		pkg, err := ctxt.ImportDir(p, 0)
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if pkg.Name != "main" {
			dirs = append(dirs, p)
		}
		return nil
	})
	return dirs, err
}

func modulePath(gomod string) (string, error) {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", fmt.Errorf("%s: no module line", gomod)
}

// packageAPI returns one line per exported declaration of a package.
func packageAPI(dir, importPath string, files []string) ([]string, error) {
	fset := token.NewFileSet()
	var parsed []*ast.File
	for _, f := range files {
		af, err := parser.ParseFile(fset, filepath.Join(dir, f), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		parsed = append(parsed, af)
	}
	p, err := doc.NewFromFiles(fset, parsed, importPath)
	if err != nil {
		return nil, err
	}
	w := &writer{fset: fset, prefix: "pkg " + importPath + ", ", internal: map[string]bool{}}
	for _, af := range parsed {
		for _, imp := range af.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if !strings.Contains("/"+p+"/", "/internal/") {
				continue
			}
			name := path.Base(p)
			if imp.Name != nil {
				name = imp.Name.Name
			}
			w.internal[name] = true
		}
	}
	w.values("const", p.Consts)
	w.values("var", p.Vars)
	w.funcs("", p.Funcs)
	for _, t := range p.Types {
		w.typ(t)
		w.values("const", t.Consts)
		w.values("var", t.Vars)
		w.funcs("", t.Funcs)
		w.funcs(t.Name, t.Methods)
	}
	return w.lines, nil
}

type writer struct {
	fset   *token.FileSet
	prefix string
	lines  []string
	// internal are the names the package's files import internal
	// packages under: a public declaration must not mention them.
	internal map[string]bool
}

func (w *writer) add(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	for name := range w.internal {
		if strings.Contains(" "+strings.NewReplacer("(", " ", "*", " ", "[", " ", "]", " ", ",", " ", "{", " ").Replace(line), " "+name+".") {
			line += " // INTERNAL TYPE " + name
		}
	}
	w.lines = append(w.lines, w.prefix+line)
}

// node prints n on one line.
func (w *writer) node(n any) string {
	var b bytes.Buffer
	if err := (&printer.Config{Mode: printer.RawFormat}).Fprint(&b, w.fset, n); err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func (w *writer) values(kind string, vs []*doc.Value) {
	for _, v := range vs {
		var typ ast.Expr
		var vals []ast.Expr
		for i, spec := range v.Decl.Specs {
			s := spec.(*ast.ValueSpec)
			if s.Type != nil || len(s.Values) > 0 || i == 0 {
				typ, vals = s.Type, s.Values // an implicit repetition (iota) keeps the last ones
			}
			for j, name := range s.Names {
				if !name.IsExported() {
					continue
				}
				line := kind + " " + name.Name
				if typ != nil {
					line += " " + w.node(typ)
				}
				if kind == "const" && j < len(vals) && len(s.Values) > 0 {
					line += " = " + w.node(vals[j])
				}
				w.add("%s", line)
			}
		}
	}
}

func (w *writer) funcs(recvType string, fs []*doc.Func) {
	for _, f := range fs {
		sig := w.node(&ast.FuncDecl{Name: f.Decl.Name, Type: f.Decl.Type})
		sig = strings.TrimPrefix(sig, "func ")
		if f.Decl.Recv == nil || recvType == "" {
			w.add("func %s", sig)
			continue
		}
		w.add("method (%s) %s", w.node(f.Decl.Recv.List[0].Type), sig)
	}
}

func (w *writer) typ(t *doc.Type) {
	for _, spec := range t.Decl.Specs {
		s := spec.(*ast.TypeSpec)
		if !s.Name.IsExported() {
			continue
		}
		name := s.Name.Name
		if s.TypeParams != nil {
			var params []string
			for _, f := range s.TypeParams.List {
				var names []string
				for _, n := range f.Names {
					names = append(names, n.Name)
				}
				params = append(params, strings.Join(names, ", ")+" "+w.node(f.Type))
			}
			name += "[" + strings.Join(params, ", ") + "]"
		}
		if s.Assign.IsValid() {
			w.add("type %s = %s", name, w.node(s.Type))
			continue
		}
		switch u := s.Type.(type) {
		case *ast.StructType:
			w.add("type %s struct", name)
			for _, f := range u.Fields.List {
				if len(f.Names) == 0 {
					w.add("type %s struct, embedded %s", name, w.node(f.Type))
					continue
				}
				for _, n := range f.Names {
					if n.IsExported() {
						w.add("type %s struct, %s %s", name, n.Name, w.node(f.Type))
					}
				}
			}
		case *ast.InterfaceType:
			w.add("type %s interface", name)
			for _, m := range u.Methods.List {
				if len(m.Names) == 0 {
					w.add("type %s interface, embedded %s", name, w.node(m.Type))
					continue
				}
				for _, n := range m.Names {
					if !n.IsExported() {
						continue
					}
					sig := strings.TrimPrefix(w.node(m.Type), "func")
					w.add("type %s interface, %s%s", name, n.Name, sig)
				}
			}
			if u.Incomplete {
				w.add("type %s interface, unexported methods", name)
			}
		default:
			w.add("type %s %s", name, w.node(s.Type))
		}
	}
}

// readBaseline returns the lines of every api/*.txt file in dir but skip.
func readBaseline(dir, skip string) (map[string]bool, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		return nil, err
	}
	lines := map[string]bool{}
	for _, f := range files {
		if filepath.Base(f) == skip {
			continue
		}
		fl, err := readLines(f)
		if err != nil {
			return nil, err
		}
		for _, l := range fl {
			lines[l] = true
		}
	}
	return lines, nil
}

// readLines returns a baseline file's lines, blank lines and # comments left out.
func readLines(file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}
