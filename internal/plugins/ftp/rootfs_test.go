package ftp

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestRootFsConfines(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "root")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ok"), []byte("ok"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"out": secret, "outdir": outside, "sub/up": "../../" + filepath.Base(filepath.Dir(dir))} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	fs, err := openRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()

	for _, name := range []string{"/ok", "ok", "sub/../ok", "/../ok", "../../ok", "//ok"} {
		f, err := fs.Open(name)
		if err != nil {
			t.Errorf("Open(%q): %v", name, err)
			continue
		}
		b, _ := io.ReadAll(f)
		f.Close()
		if string(b) != "ok" {
			t.Errorf("Open(%q) read %q", name, b)
		}
	}
	for _, name := range []string{"/out", "out", "outdir/secret", "sub/up/" + filepath.Base(outside) + "/secret", "/../../../../" + secret} {
		if f, err := fs.Open(name); err == nil {
			b, _ := io.ReadAll(f)
			f.Close()
			t.Errorf("Open(%q) escaped the root: read %q", name, b)
		}
		if _, err := fs.Stat(name); err == nil && name != "/outdir" {
			t.Errorf("Stat(%q) escaped the root", name)
		}
	}
	// Writes through a link out of the root are refused too.
	if _, err := fs.OpenFile("outdir/new", os.O_WRONLY|os.O_CREATE, 0o644); err == nil {
		t.Error("created a file through a symlink out of the root")
	}
	if err := fs.Rename("ok", "outdir/moved"); err == nil {
		t.Error("renamed a file out of the root")
	}
	if err := fs.Mkdir("outdir/d", 0o755); err == nil {
		t.Error("made a directory out of the root")
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("something was written outside: %v", err)
	}
	if err := fs.RemoveAll("/"); err == nil {
		t.Error("RemoveAll of the root itself succeeded")
	}
	if err := fs.Remove("/.."); err == nil {
		t.Error("Remove of /.. succeeded")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("root gone: %v", err)
	}
}

func TestRel(t *testing.T) {
	for in, want := range map[string]string{"/": ".", "": ".", "/a/b": "a/b", "/../..": ".", "a/../../b": "b", "//x//y/": "x/y"} {
		if got := rel(in); got != want {
			t.Errorf("rel(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzConfinement opens what a client might name and checks that the
// file it gets is never the secret beside the root.
func FuzzConfinement(f *testing.F) {
	outside := f.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o644); err != nil {
		f.Fatal(err)
	}
	dir := filepath.Join(outside, "root")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		f.Fatal(err)
	}
	_ = os.Symlink(secret, filepath.Join(dir, "link"))
	_ = os.Symlink("..", filepath.Join(dir, "sub", "up"))
	_ = os.Symlink(outside, filepath.Join(dir, "out"))
	fs, err := openRoot(dir)
	if err != nil {
		f.Fatal(err)
	}
	want, _ := os.Stat(secret)
	for _, s := range []string{"../secret", "/../secret", "link", "sub/up/../secret", "out/secret", "sub/up/up/secret", "//..//secret"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		file, err := fs.Open(name)
		if err != nil {
			return
		}
		defer file.Close()
		if fi, err := file.Stat(); err == nil && os.SameFile(fi, want) {
			t.Fatalf("Open(%q) reached the secret outside the root", name)
		}
	})
}
