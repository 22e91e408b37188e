package web

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"

	"github.com/twistd-go/twistd/metrics"
	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/service"
)

func TestCountsRequestsByCode(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := DefaultOptions()
	opts.Path = plugin.DirPath(dir)
	srv, err := newServer(&opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	env := &service.Env{Name: "site", Logger: zap.NewNop(), Stats: &service.Stats{}, Metrics: m}
	srv.h.bind(env)
	for _, p := range []string{"/a.txt", "/a.txt", "/missing", "/../x"} {
		get(srv.h, p)
	}
	if got := env.Stats.Requests.Load(); got != 4 {
		t.Errorf("Stats.Requests = %d, want 4", got)
	}
	for code, want := range map[string]float64{"200": 2, "404": 1, "400": 1} {
		var pb dto.Metric
		if err := m.Counter(httpRequests, "service", "code").WithLabelValues("site", code).Write(&pb); err != nil {
			t.Fatal(err)
		}
		if got := pb.GetCounter().GetValue(); got != want {
			t.Errorf("twistd_http_requests_total{code=%s} = %v, want %v", code, got, want)
		}
	}
	var pb dto.Metric
	if err := m.Histogram(httpDuration, "service").WithLabelValues("site").(prometheus.Metric).Write(&pb); err != nil {
		t.Fatal(err)
	}
	if n := pb.GetHistogram().GetSampleCount(); n != 4 {
		t.Errorf("duration histogram count: %d, want 4", n)
	}
}

func TestReloadRereadsDataFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ht := write("htpasswd", "alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n") // password
	page := write("404.html", "old page")
	opts := DefaultOptions()
	opts.Path = plugin.DirPath(dir)
	opts.BasicAuth = &BasicAuth{Htpasswd: plugin.FilePath(ht)}
	opts.Errors = map[int]plugin.FilePath{404: plugin.FilePath(page)}
	srv, err := newServer(&opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	auth := func(user, pass string) int {
		r := httptest.NewRequest("GET", "/missing", nil)
		r.SetBasicAuth(user, pass)
		w := httptest.NewRecorder()
		srv.h.ServeHTTP(w, r)
		return w.Code
	}
	if auth("alice", "password") != 404 || auth("bob", "password") != 401 {
		t.Fatal("before reload: alice should pass and bob not")
	}
	write("htpasswd", "bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
	write("404.html", "new page")
	if err := srv.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if auth("alice", "password") != 401 || auth("bob", "password") != 404 {
		t.Fatal("after reload: bob should pass and alice not")
	}
	r := httptest.NewRequest("GET", "/missing", nil)
	r.SetBasicAuth("bob", "password")
	w := httptest.NewRecorder()
	srv.h.ServeHTTP(w, r)
	if w.Body.String() != "new page" {
		t.Fatalf("error page after reload: %q", w.Body.String())
	}
	// A broken file keeps the previous users and reports the error.
	write("htpasswd", "carol:$apr1$xyz\n")
	if err := srv.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), "htpasswd:1: ") {
		t.Fatalf("reload of a bad htpasswd: %v", err)
	}
	if auth("bob", "password") != 404 {
		t.Fatal("a failed reload dropped the previous users")
	}
}

func TestAccessLogLine(t *testing.T) {
	var buf bytes.Buffer
	a := &accessLog{w: &buf}
	r := httptest.NewRequest("GET", "/a%20b?q=1", nil)
	r.RemoteAddr = "[2001:db8::1]:5555"
	r.Header.Set("User-Agent", "ua \"quoted\"\n")
	when := time.Date(2026, 11, 22, 8, 0, 0, 0, time.FixedZone("", -7*3600))
	if err := a.log(r, "alice", 206, 1234, when); err != nil {
		t.Fatal(err)
	}
	want := `2001:db8::1 - alice [22/Nov/2026:08:00:00 -0700] "GET /a%20b?q=1 HTTP/1.1" 206 1234 "-" "ua \x22quoted\x22\x0A"` + "\n"
	if buf.String() != want {
		t.Fatalf("got  %q\nwant %q", buf.String(), want)
	}
}

func TestAccepts(t *testing.T) {
	for _, tt := range []struct {
		header, coding string
		want           bool
	}{
		{"gzip, deflate, br", "gzip", true},
		{"gzip, deflate, br", "br", true},
		{"deflate", "gzip", false},
		{"gzip;q=0", "gzip", false},
		{"GZIP; q=0.5", "gzip", true},
		{"*", "br", true},
		{"*;q=0, gzip", "br", false},
		{"br;q=0, *", "br", false},
		{"", "gzip", false},
	} {
		if got := accepts(tt.header, tt.coding); got != tt.want {
			t.Errorf("accepts(%q, %q) = %v, want %v", tt.header, tt.coding, got, tt.want)
		}
	}
}

// TestHtpasswdFormats checks basic_auth's file takes bcrypt and {SHA}
// and refuses what it cannot check, naming the line.
func TestHtpasswdFormats(t *testing.T) {
	users, err := htpasswdOptions.Parse(strings.NewReader("# c\n\nalice:$2y$05$abcdefghijklmnopqrstuu7Q7r1ZC3/fY1Jx2.6YQ7a9mJ4c3nQ2S\nbob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"), "h")
	if err != nil || users.Len() != 2 {
		t.Fatalf("%v %v", users, err)
	}
	for _, bad := range []string{"nocolon\n", "u:$apr1$x$y\n", "u:plain\n", "u:{SHA}notbase64\n"} {
		if _, err := htpasswdOptions.Parse(strings.NewReader(bad), "h"); err == nil || !strings.HasPrefix(err.Error(), "h:1: ") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
func TestDefaultTimeoutsAreNginxLike(t *testing.T) {
	got := DefaultOptions().Timeouts
	want := Timeouts{ReadHeader: 10 * time.Second, Read: 60 * time.Second, Write: 60 * time.Second, Idle: 75 * time.Second}
	if got != want {
		t.Fatalf("default timeouts %+v, want %+v", got, want)
	}
}
