package logfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestOpenWithModeCreatesWithTheMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conn.log")
	f, err := OpenWithMode(path, nil, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("a line\n")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := f.Reopen(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path + ".1", path} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o640 {
			t.Errorf("%s: mode %o, want 640", p, got)
		}
	}
}
