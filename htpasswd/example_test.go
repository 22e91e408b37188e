package htpasswd_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/twistd-go/twistd/htpasswd"
)

// A service checks logins against the file its users: key names, and
// re-reads it on reload.
func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "htpasswd")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "users")
	hash, _ := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost) // htpasswd -B
	_ = os.WriteFile(path, []byte("# the users\nalice:"+string(hash)+"\n"), 0o600)

	users, err := htpasswd.Load(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(users.Check("alice", "secret"), users.Check("alice", "guess"), users.Check("mallory", "secret"))

	// A bad file is an error naming its line; the users loaded stay.
	_ = os.WriteFile(path, []byte("alice:secret\n"), 0o600)
	err = users.Reload()
	fmt.Println(err != nil, users.Check("alice", "secret"))
	// Output:
	// true false false
	// true true
}

// Options widen what a file may hold: {SHA} entries beside bcrypt, and
// user names compared without case.
func ExampleOptions_Parse() {
	users, err := htpasswd.Options{SHA1: true, FoldCase: true}.Parse(
		strings.NewReader("Bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"), "users")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(users.Has("bob"), users.Check("BOB", "password"))

	_, err = htpasswd.Options{}.Parse(strings.NewReader("bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"), "users")
	fmt.Println(err)
	// Output:
	// true true
	// users:1: user "bob": not a bcrypt hash (make one with htpasswd -B)
}
