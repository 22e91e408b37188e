package process

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets StartOpener run this test binary as the opener.
func TestMain(m *testing.M) {
	if IsOpener() {
		os.Exit(RunOpener())
	}
	os.Exit(m.Run())
}

func TestOpenerOpensOnlyWhatItWasToldOfBeforeSeal(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "a.log")
	o, err := StartOpener()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if err := o.Allow(logPath); err != nil {
		t.Fatal(err)
	}
	if err := o.Seal(); err != nil {
		t.Fatal(err)
	}
	if err := o.Allow(filepath.Join(dir, "b.log")); err == nil || !strings.Contains(err.Error(), "sealed") {
		t.Fatalf("Allow after Seal: %v, want sealed", err)
	}
	f, err := o.OpenAppend(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("line\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if b, _ := os.ReadFile(logPath); string(b) != "line\n" {
		t.Fatalf("file holds %q", b)
	}
	if _, err := o.OpenAppend(filepath.Join(dir, "b.log")); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("a path not allowed: %v, want ErrNotAllowed", err)
	}
}

func TestOpenerRefusesLinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "secret")
	if err := os.WriteFile(target, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	sym, hard := filepath.Join(dir, "sym.log"), filepath.Join(dir, "hard.log")
	if err := os.Symlink(target, sym); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(target, hard); err != nil {
		t.Fatal(err)
	}
	o, err := StartOpener()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if err := o.Allow(sym, hard, dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{sym, hard, dir} {
		if f, err := o.OpenAppend(p); err == nil {
			f.Close()
			t.Errorf("%s was opened", p)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "x" {
		t.Fatalf("the link's target changed: %q", b)
	}
}

func TestOpenerEndsWithItsProcess(t *testing.T) {
	o, err := StartOpener()
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatalf("the opener did not exit cleanly once its socket closed: %v", err)
	}
}

func TestOpenerCreatesWithTheModeAsked(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "users.log")
	o, err := StartOpener()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if err := o.Allow(logPath); err != nil {
		t.Fatal(err)
	}
	f, err := o.OpenAppendMode(logPath, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if fi, err := os.Stat(logPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("created with %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	if _, err := o.OpenAppendMode(filepath.Join(dir, "other.log"), 0o600); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("a path not allowed: %v, want ErrNotAllowed", err)
	}
	if _, err := o.ask("open-mode", "7777 "+logPath); err == nil || !strings.Contains(err.Error(), "bad mode") {
		t.Fatalf("mode 7777: %v, want a bad mode", err)
	}
}
