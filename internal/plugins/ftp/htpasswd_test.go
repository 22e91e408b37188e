package ftp

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestPasswords(t *testing.T) {
	h, _ := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	p, err := parsePasswords("pw", []byte("# users\n\nalice:"+string(h)+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !p.check("alice", "secret") || p.check("alice", "wrong") || p.check("bob", "secret") {
		t.Error("check is wrong")
	}
	for text, want := range map[string]string{
		"alice\n":                             "pw:1: want user:bcrypt-hash",
		"# c\nbob:{SHA}abc\n":                 `pw:2: user "bob": not a bcrypt hash`,
		"a:" + string(h) + "\na:" + string(h): `pw:2: user "a" given twice`,
		":" + string(h):                       "pw:1: want user:bcrypt-hash",
	} {
		_, err := parsePasswords("pw", []byte(text))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", text, err, want)
		}
	}
}

func FuzzParsePasswords(f *testing.F) {
	f.Add("alice:$2y$05$abcdefghijklmnopqrstuu5Vr0w4nSXd3Z1xqIv8T/8C0QOm1.bi6\n")
	f.Add("x:y\n#\n")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePasswords("f", []byte(s))
		if err == nil && p == nil {
			t.Fatal("nil map without an error")
		}
	})
}
