package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzLoad parses arbitrary files, seeded with the testdata files: it must
// not panic, and every error must be an *Error at a line of the file.
// Each service is also decoded as a plugin would, with the same check.
func FuzzLoad(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range seeds {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const path = "testdata/fuzz.yaml"
		// A hang becomes a crash, so that the fuzzer records the input.
		watchdog := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("hang on %q", data)) })
		defer watchdog.Stop()
		file, err := Parse(path, "testdata", data, testOptions())
		checkFuzzErrors(t, path, err)
		if file == nil {
			return
		}
		for _, s := range file.Services {
			if s.Node == nil || s.file != file {
				t.Fatalf("service %+v has no node or file", s)
			}
			checkFuzzErrors(t, path, s.Decode(&pluginOptions{}))
			checkFuzzErrors(t, path, s.Decode(&decodeTarget{}))
			var m map[string]any
			checkFuzzErrors(t, path, s.Decode(&m))
		}
		_ = file.Process.Settings()
	})
}

func checkFuzzErrors(t *testing.T, path string, err error) {
	t.Helper()
	for _, e := range flatten(nil, err) {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("error %q is a %T, not an *Error", e, e)
		}
		if ce.Pos.File != path || ce.Pos.Line < 1 || ce.Pos.Col < 1 || ce.Msg == "" {
			t.Fatalf("error %q: bad position or message %+v", e, ce)
		}
	}
}
