package conch

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
)

// account is a system user a session runs as.
type account struct {
	Name        string
	UID, GID    uint32
	Groups      []uint32
	Home, Shell string
}

// maxPasswd bounds what is read of /etc/passwd.
const maxPasswd = 16 << 20

// passwdEntry finds name in an /etc/passwd-format reader.
func passwdEntry(r io.Reader, name string) (*account, bool) {
	sc := bufio.NewScanner(io.LimitReader(r, maxPasswd))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 7 || f[0] != name {
			continue
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			return nil, false
		}
		return &account{Name: name, UID: uint32(uid), GID: uint32(gid), Home: f[5], Shell: f[6]}, true
	}
	return nil, false
}

// lookupAccount returns the system account name, with its groups. When
// we do not run as root, only our own account may log in.
func lookupAccount(name string) (*account, error) {
	if name == "" || strings.ContainsAny(name, ":/\n\x00") {
		return nil, fmt.Errorf("%q is not a user name", name)
	}
	if os.Geteuid() != 0 {
		// Not user.Current: it caches the user it first saw, which was
		// root when the process started as root and dropped to -u later.
		me, err := user.LookupId(strconv.Itoa(os.Geteuid()))
		if err != nil {
			return nil, fmt.Errorf("who am I (uid %d): %w", os.Geteuid(), err)
		}
		if me.Username != name {
			return nil, fmt.Errorf("twistd runs as %s, not as root: only %s may log in", me.Username, me.Username)
		}
	}
	var a *account
	if f, err := os.Open("/etc/passwd"); err == nil {
		a, _ = passwdEntry(f, name)
		f.Close()
	}
	if a == nil {
		// Not in /etc/passwd (NSS, a container): ask os/user.
		u, err := user.Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("no such user %q", name)
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("user %q: odd uid %q or gid %q", name, u.Uid, u.Gid)
		}
		a = &account{Name: name, UID: uint32(uid), GID: uint32(gid), Home: u.HomeDir}
	}
	if a.Shell == "" {
		a.Shell = "/bin/sh"
	}
	if a.Home == "" {
		a.Home = "/"
	}
	a.Groups = []uint32{a.GID}
	if u, err := user.Lookup(name); err == nil {
		if ids, err := u.GroupIds(); err == nil {
			a.Groups = a.Groups[:0]
			for _, id := range ids {
				if n, err := strconv.ParseUint(id, 10, 32); err == nil {
					a.Groups = append(a.Groups, uint32(n))
				}
			}
		}
	}
	if os.Geteuid() != 0 && uint32(os.Getuid()) != a.UID {
		return nil, fmt.Errorf("user %q is not the user twistd runs as", name)
	}
	return a, nil
}
