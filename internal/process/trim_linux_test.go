package process

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// rssFile is the process's resident file-backed memory in kB.
func rssFile(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

func TestTrimTextShrinksTheResidentSetAndKeepsRunning(t *testing.T) {
	before := rssFile(t)
	TrimText()
	after := rssFile(t)
	if after >= before {
		t.Fatalf("RssFile %d kB after TrimText, %d kB before: nothing was dropped", after, before)
	}
	// Code and constants come back as they are used.
	if s := strconv.Itoa(12345) + strings.Repeat("x", 2); s != "12345xx" {
		t.Fatalf("after TrimText: %q", s)
	}
}
