package process

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestPidfileLifecycle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.pid")
	if st, _, err := Check(path); st != NotRunning || err != nil {
		t.Fatalf("Check before = %v, %v", st, err)
	}
	p, stale, err := AcquirePidfile(path)
	if err != nil || stale != 0 {
		t.Fatalf("Acquire = %v, stale %d", err, stale)
	}
	b, _ := os.ReadFile(path)
	if strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("pidfile holds %q", b)
	}
	if st, pid, _ := Check(path); st != Running || pid != os.Getpid() {
		t.Fatalf("Check = %v %d, want running %d", st, pid, os.Getpid())
	}
	// flock locks belong to the open file, so a second open in this
	// process contends just like another process would.
	if _, _, err := AcquirePidfile(path); !errors.Is(err, ErrRunning) ||
		!strings.Contains(err.Error(), "(pid "+strconv.Itoa(os.Getpid())+", pidfile "+path+")") {
		t.Fatalf("second Acquire = %v, want ErrRunning naming the pid and file", err)
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("pidfile not removed")
	}
}

func TestStalePidfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.pid")
	os.WriteFile(path, []byte("4242\n"), 0o644)
	if st, pid, _ := Check(path); st != Stale || pid != 4242 {
		t.Fatalf("Check = %v %d, want stale 4242", st, pid)
	}
	p, stale, err := AcquirePidfile(path)
	if err != nil || stale != 4242 {
		t.Fatalf("Acquire = %v, stale %d", err, stale)
	}
	p.Release()
}

func TestGarbagePidfileIsStale(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.pid")
	os.WriteFile(path, []byte("hello\n"), 0o644)
	if st, _, _ := Check(path); st != Stale {
		t.Fatalf("Check = %v, want stale", st)
	}
}

func TestLookupCredentials(t *testing.T) {
	if c, err := LookupCredentials("", ""); c != nil || err != nil {
		t.Fatalf("empty = %v, %v", c, err)
	}
	c, err := LookupCredentials("0", "0")
	if err != nil || c.UID != 0 || c.GID != 0 {
		t.Fatalf("numeric = %+v, %v", c, err)
	}
	if _, err := LookupCredentials("no-such-user-xyz", ""); err == nil {
		t.Fatal("unknown user accepted")
	}
	if _, err := LookupCredentials("", "no-such-group-xyz"); err == nil {
		t.Fatal("unknown group accepted")
	}
}

func TestCanWrite(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name  string
		mode  os.FileMode
		creds Credentials
		want  bool
	}{
		{name: "root", mode: 0o500, creds: Credentials{UID: 0, GID: 0}, want: true},
		{name: "owner", mode: 0o700, creds: Credentials{UID: os.Getuid(), GID: 12345}, want: true},
		{name: "group without w", mode: 0o750, creds: Credentials{UID: os.Getuid() + 1000, GID: os.Getgid()}, want: false},
		{name: "group", mode: 0o070, creds: Credentials{UID: 54321, GID: os.Getgid()}, want: true},
		{name: "other", mode: 0o755, creds: Credentials{UID: 54321, GID: 54321}, want: false},
		{name: "world", mode: 0o777, creds: Credentials{UID: 54321, GID: 54321}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.Chmod(dir, tt.mode); err != nil {
				t.Fatal(err)
			}
			got, err := tt.creds.CanWrite(dir)
			if err != nil || got != tt.want {
				t.Fatalf("CanWrite = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	os.Chmod(dir, 0o700)
}
