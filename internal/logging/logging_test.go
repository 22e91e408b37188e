package logging

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func TestConsoleFormat(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(Options{Format: "console", Level: "info", Stdout: &buf})
	if err != nil {
		t.Fatal(err)
	}
	l.Named("site").Info("listening on 127.0.0.1:8080")
	l.Debug("hidden at info")
	want := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z  INFO  \[site\]  listening on 127\.0\.0\.1:8080\n$`)
	if !want.MatchString(buf.String()) {
		t.Fatalf("got %q", buf.String())
	}
}

func TestJSONFormat(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(Options{Format: "json", Level: "debug", Stdout: &buf})
	if err != nil {
		t.Fatal(err)
	}
	l.Named("dns").Warn("slow upstream", zap.String("addr", "9.9.9.9:53"))
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("%q: %v", buf.String(), err)
	}
	if m["level"] != "warn" || m["msg"] != "slow upstream" || m["service"] != "dns" || m["addr"] != "9.9.9.9:53" || m["ts"] == nil {
		t.Fatalf("got %v", m)
	}
}

func TestReopenAfterRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	l, err := New(Options{File: path, Format: "console", Level: "info"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Info("before")
	os.Rename(path, path+".1")
	l.Info("between")
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Info("after")
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	if !strings.Contains(string(old), "before") || !strings.Contains(string(old), "between") || strings.Contains(string(old), "after") {
		t.Fatalf("old file: %q", old)
	}
	if !strings.Contains(string(cur), "after") || strings.Contains(string(cur), "before") {
		t.Fatalf("new file: %q", cur)
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []Options{{Format: "xml", Level: "info"}, {Format: "json", Level: "loud"}} {
		if _, err := New(o); err == nil {
			t.Fatalf("%+v accepted", o)
		}
	}
}

func TestLiveFormatAndLevel(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(Options{Format: "console", Level: "info", Stdout: &buf})
	if err != nil {
		t.Fatal(err)
	}
	svc := l.Named("site").With(zap.String("k", "v"))
	svc.Debug("hidden")
	if err := l.SetFormat("json"); err != nil {
		t.Fatal(err)
	}
	if err := l.SetLevel("debug"); err != nil {
		t.Fatal(err)
	}
	svc.Debug("shown")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("%q: %v", buf.String(), err)
	}
	if m["msg"] != "shown" || m["service"] != "site" || m["k"] != "v" {
		t.Fatalf("got %v", m)
	}
}

type count int

func (c *count) Inc() { *c++ }

type failing struct{ writes int }

func (f *failing) Write(p []byte) (int, error) { f.writes++; return 0, os.ErrClosed }

func TestWriteErrorsCounted(t *testing.T) {
	var errs count
	var reported bytes.Buffer
	w := &failing{}
	l, err := New(Options{Format: "console", Level: "info", Stdout: w, WriteErrors: &errs})
	if err != nil {
		t.Fatal(err)
	}
	l.Logger = l.WithOptions(zap.ErrorOutput(zapcore.AddSync(&reported)))
	for i := 0; i < 5; i++ {
		l.Info("lost")
	}
	if errs != 5 || w.writes != 5 {
		t.Fatalf("counted %d failed writes of %d, want 5", errs, w.writes)
	}
	if n := strings.Count(reported.String(), "write error"); n != 1 {
		t.Fatalf("a run of failures reported %d times, want once: %q", n, reported.String())
	}
}
