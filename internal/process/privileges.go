package process

import (
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"syscall"
)

// Credentials are the identity to switch to after binding.
type Credentials struct {
	UID, GID int
	// Groups are the supplementary groups (the user's primary group).
	Groups []int
}

// LookupCredentials resolves --uid and --gid (names or numbers). It must run
// before a chroot hides /etc/passwd. An empty uid and gid gives nil: stay
// as we are. A user without a group gets the user's primary group, as twistd.
func LookupCredentials(uid, gid string) (*Credentials, error) {
	if uid == "" && gid == "" {
		return nil, nil
	}
	c := &Credentials{UID: os.Getuid(), GID: os.Getgid()}
	if uid != "" {
		u, err := lookupUser(uid)
		if err != nil {
			return nil, err
		}
		c.UID, _ = strconv.Atoi(u.Uid)
		c.GID, _ = strconv.Atoi(u.Gid)
	}
	if gid != "" {
		g, err := lookupGroup(gid)
		if err != nil {
			return nil, err
		}
		c.GID = g
	}
	c.Groups = []int{c.GID}
	return c, nil
}

func lookupUser(s string) (*user.User, error) {
	if _, err := strconv.Atoi(s); err == nil {
		if u, err := user.LookupId(s); err == nil {
			return u, nil
		}
		// A numeric uid with no passwd entry is fine: keep our group.
		return &user.User{Uid: s, Gid: strconv.Itoa(os.Getgid())}, nil
	}
	u, err := user.Lookup(s)
	if err != nil {
		return nil, fmt.Errorf("uid %q: %w", s, err)
	}
	return u, nil
}

func lookupGroup(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return 0, fmt.Errorf("gid %q: %w", s, err)
	}
	return strconv.Atoi(g.Gid)
}

// Confine chroots into dir (if set) and then switches to creds (if set):
// groups first, then gid, then uid, so the switch cannot be undone.
func Confine(chroot string, creds *Credentials) error {
	if chroot != "" {
		if err := syscall.Chroot(chroot); err != nil {
			return fmt.Errorf("chroot %s: %w", chroot, err)
		}
		if err := os.Chdir("/"); err != nil {
			return fmt.Errorf("chroot %s: chdir /: %w", chroot, err)
		}
	}
	if creds == nil {
		return nil
	}
	if err := syscall.Setgroups(creds.Groups); err != nil {
		return fmt.Errorf("setgroups %v: %w", creds.Groups, err)
	}
	if err := syscall.Setgid(creds.GID); err != nil {
		return fmt.Errorf("setgid %d: %w", creds.GID, err)
	}
	if err := syscall.Setuid(creds.UID); err != nil {
		return fmt.Errorf("setuid %d: %w", creds.UID, err)
	}
	return nil
}

// CanWrite reports whether these credentials may create and rename files
// in dir, by its owner, group and mode bits (ACLs are not consulted).
func (c *Credentials) CanWrite(dir string) (bool, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return false, fmt.Errorf("stat %s: %w", dir, err)
	}
	mode := st.Mode & 0o7777
	switch {
	case c.UID == 0:
		return true, nil
	case int(st.Uid) == c.UID:
		return mode&0o300 == 0o300, nil
	case slices.Contains(c.Groups, int(st.Gid)) || int(st.Gid) == c.GID:
		return mode&0o030 == 0o030, nil
	}
	return mode&0o003 == 0o003, nil
}
