package cli

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/internal/config"
)

// A reload that names a data file in a directory not watched before may
// read the file before an edit no watch could see yet (the directory is
// watched only once the reload is done): a file modified since the
// reload began is taken as changed, and reloads again. One modified
// before is not.
func TestRefreshSeesAnEditToANewlyNamedFileDuringTheReload(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edited bool
	}{{"edited during the reload", true}, {"unchanged", false}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			old := filepath.Join(dir, "hosts")
			moved := filepath.Join(dir, "data", "hosts")
			if err := os.MkdirAll(filepath.Dir(moved), 0o755); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{old, moved} {
				if err := os.WriteFile(p, []byte("127.0.0.1 a.test\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				past := time.Now().Add(-time.Minute) // written well before the reload
				if err := os.Chtimes(p, past, past); err != nil {
					t.Fatal(err)
				}
			}
			w, err := newWatcher(zap.NewNop(), "")
			if err != nil {
				t.Fatal(err)
			}
			defer w.close()
			file := func(p string) *config.File {
				return &config.File{Path: commandLine, Paths: []config.PathUse{{Path: p, Read: true}}}
			}
			w.refresh(file(old), time.Time{})
			began := time.Now()
			if tc.edited { // after the reload read it, before the refresh
				if err := os.WriteFile(moved, []byte("127.0.0.2 b.test\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			w.refresh(file(moved), began)
			select {
			case sig := <-w.signals:
				if !tc.edited || sig != syscall.SIGHUP {
					t.Fatalf("reload asked (%v) for an unchanged file", sig)
				}
			case <-time.After(10 * watchDebounce):
				if tc.edited {
					t.Fatal("the edit made during the reload was never reloaded")
				}
			}
		})
	}
}
