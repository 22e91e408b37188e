package htpasswd

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func hash(t testing.TB, pass string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func TestParseErrors(t *testing.T) {
	h := hash(t, "secret")
	for _, tc := range []struct {
		opts Options
		in   string
		want string
	}{
		{Options{}, "alice\n", "pw:1: want user:bcrypt-hash"},
		{Options{}, ":" + h, "pw:1: want user:bcrypt-hash"},
		{Options{}, "alice:\n", "pw:1: want user:bcrypt-hash"},
		{Options{}, "# c\nbob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n", `pw:2: user "bob": not a bcrypt hash (make one with htpasswd -B)`},
		{Options{}, "u:$apr1$x$y\n", `pw:1: user "u": not a bcrypt hash`},
		{Options{}, "u:$2y$x\n", `pw:1: user "u": not a bcrypt hash: `},
		{Options{}, "a:" + h + "\na:" + h, `pw:2: user "a" given twice`},
		{Options{FoldCase: true}, "a:" + h + "\nA:" + h, `pw:2: user "a" given twice`},
		{Options{SHA1: true}, "u:{SHA}notbase64\n", `pw:1: user "u": bad {SHA} hash`},
		{Options{SHA1: true}, "u:plain\n", `pw:1: user "u": not a bcrypt or {SHA} hash`},
		{Options{MaxUser: 3}, "abcd:" + h, "pw:1: user name longer than 3 bytes"},
		{Options{}, strings.Repeat("x", MaxLine+1), "pw:1: bufio.Scanner: token too long"},
	} {
		_, err := tc.opts.Parse(strings.NewReader(tc.in), "pw")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v %.30q: err = %v, want %q", tc.opts, tc.in, err, tc.want)
		}
	}
}

func TestCheck(t *testing.T) {
	h := hash(t, "secret")
	f, err := Options{SHA1: true}.Parse(strings.NewReader("# users\n\n alice:"+h+" \r\nbob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"), "pw")
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() != 2 || !f.Has("alice") || f.Has("Alice") || f.Has("carol") || !slices.Equal(f.Users(), []string{"alice", "bob"}) {
		t.Fatalf("users: len %d", f.Len())
	}
	for _, tc := range []struct {
		user, pass string
		want       bool
	}{
		{"alice", "secret", true},
		{"alice", "secret", true}, // remembered
		{"alice", "wrong", false},
		{"Alice", "secret", false},
		{"bob", "password", true},
		{"bob", "wrong", false},
		{"carol", "secret", false},
	} {
		if got := f.Check(tc.user, tc.pass); got != tc.want {
			t.Errorf("Check(%q, %q) = %v, want %v", tc.user, tc.pass, got, tc.want)
		}
	}
	if err := f.Reload(); err == nil {
		t.Error("Reload of a parsed file: no error")
	}
}

func TestFoldCase(t *testing.T) {
	f, err := Options{FoldCase: true}.Parse(strings.NewReader("Alice:"+hash(t, "secret")), "pw")
	if err != nil {
		t.Fatal(err)
	}
	if !f.Has("ALICE") || !f.Check("aLiCe", "secret") {
		t.Error("case folded name not found")
	}
}

// TestUnknownUserCostsABcrypt checks the dummy hash has the file's cost:
// an unknown user takes about as long as a known one's wrong password.
func TestUnknownUserCostsABcrypt(t *testing.T) {
	h, _ := bcrypt.GenerateFromPassword([]byte("secret"), 10)
	f, err := Options{}.Parse(strings.NewReader("alice:"+string(h)), "pw")
	if err != nil {
		t.Fatal(err)
	}
	f.Check("nobody", "x") // makes the dummy
	timeOf := func(user string) time.Duration {
		best := time.Hour
		for range 3 {
			start := time.Now()
			f.Check(user, "wrong")
			best = min(best, time.Since(start))
		}
		return best
	}
	known, unknown := timeOf("alice"), timeOf("nobody")
	if unknown < known/3 {
		t.Errorf("unknown user took %v, a wrong password %v", unknown, known)
	}
}

func TestLoadAndReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("alice:" + hash(t, "one"))
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Check("alice", "one") || f.Path() != path {
		t.Fatal("first load")
	}
	write("alice:" + hash(t, "two") + "\nbob:" + hash(t, "three"))
	if err := f.Reload(); err != nil {
		t.Fatal(err)
	}
	if f.Check("alice", "one") || !f.Check("alice", "two") || !f.Check("bob", "three") {
		t.Fatal("after reload")
	}
	write("alice:plain\n")
	if err := f.Reload(); err == nil || !strings.Contains(err.Error(), path+`:1: user "alice": not a bcrypt hash`) {
		t.Fatalf("bad reload: %v", err)
	}
	if !f.Check("bob", "three") {
		t.Fatal("a failed reload lost the previous users")
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing file loaded")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("alice:$2y$05$abcdefghijklmnopqrstuu5Vr0w4nSXd3Z1xqIv8T/8C0QOm1.bi6\n", false)
	f.Add("# c\n\nbob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\r\nx:y\n", true)
	f.Add("a:$2b$x\na:$2b$y\n:\n", false)
	f.Fuzz(func(t *testing.T, s string, sha bool) {
		file, err := Options{SHA1: sha, FoldCase: sha, MaxUser: 255}.Parse(strings.NewReader(s), "f")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f:") {
				t.Fatalf("error without the file's name: %v", err)
			}
			return
		}
		for u, h := range file.cur.Load().users {
			if u == "" || len(u) > 255 {
				t.Fatalf("accepted user %q", u)
			}
			if !isBcrypt(h) && !(sha && strings.HasPrefix(h, "{SHA}")) {
				t.Fatalf("accepted %q:%q", u, h)
			}
		}
	})
}
