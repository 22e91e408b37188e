package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// maxTrackedFile is the largest file the repository may hold: anything
// bigger is build output or a download that slipped in.
const maxTrackedFile = 1 << 20

// TestNoLargeTrackedFiles fails when git tracks a file over 1 MiB (a
// committed binary, a downloaded archive).
func TestNoLargeTrackedFiles(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("git", "-C", "..", "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		fi, err := os.Lstat(filepath.Join("..", name))
		if err != nil {
			continue // deleted in the work tree
		}
		if fi.Size() > maxTrackedFile {
			t.Errorf("%s is %d bytes, over the %d-byte limit for tracked files: build output and downloads stay out of git", name, fi.Size(), maxTrackedFile)
		}
	}
}

// TestRequiredLayout fails when a top-level path SPEC §8 requires is
// missing (a refactor that moved one away).
func TestRequiredLayout(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"go.mod", "cmd/twistd", "internal/service", "internal/reactor", "internal/plugins",
		"configs/app.yaml", "deploy/systemd", "Makefile", "README.md", ".ci/run"} {
		if _, err := os.Stat(filepath.Join("..", p)); err != nil {
			t.Errorf("required %s: %v", p, err)
		}
	}
	// internal/service must hold code, not just exist.
	if m, _ := filepath.Glob("../internal/service/*.go"); len(m) == 0 {
		t.Error("internal/service has no Go package")
	}
}

// TestREADMENamesEveryPackage fails when a package of the module is not
// in the README's layout section (bench/'s load tools are named by
// bench/ itself).
func TestREADMENamesEveryPackage(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, layout, ok := strings.Cut(string(readme), "## Layout")
	if !ok {
		t.Fatal("README.md has no ## Layout section")
	}
	named := map[string]bool{}
	for _, line := range strings.Split(layout, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		entry := strings.TrimSuffix(f[0], "/")
		if pre, rest, ok := strings.Cut(entry, "{"); ok {
			for _, name := range strings.Split(strings.TrimSuffix(strings.TrimSuffix(rest, "/"), "}"), ",") {
				named[pre+name] = true
			}
			continue
		}
		named[entry] = true
	}
	list := exec.Command("go", "list", "-f", "{{.Dir}}", "./...")
	list.Dir = ".."
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, _ := filepath.Abs("..")
	for _, dir := range strings.Fields(string(out)) {
		rel, _ := filepath.Rel(root, dir)
		switch {
		case rel == ".":
			rel = "twistd.go"
		case strings.HasPrefix(rel, "bench/"):
			rel = "bench"
		}
		if !named[rel] {
			t.Errorf("the README's layout does not name %s", rel)
		}
	}
}
