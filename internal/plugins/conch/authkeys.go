package conch

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"strings"
	"syscall"

	"golang.org/x/crypto/ssh"
)

// maxAuthorizedKeys bounds what is read of an authorized_keys file.
const maxAuthorizedKeys = 1 << 20

// grant is what an authorized_keys line allows beyond the login.
type grant struct {
	command      string // command="...": the only command the key runs
	noPTY        bool   // no-pty
	noForwarding bool   // no-port-forwarding
}

// Permission extensions a login carries to its sessions.
const (
	extCommand      = "command"
	extNoPTY        = "no-pty"
	extNoForwarding = "no-port-forwarding"
	extMethod       = "method"
)

func (g grant) extensions() map[string]string {
	ext := map[string]string{extMethod: "publickey"}
	if g.command != "" {
		ext[extCommand] = g.command
	}
	if g.noPTY {
		ext[extNoPTY] = ""
	}
	if g.noForwarding {
		ext[extNoForwarding] = ""
	}
	return ext
}

// expandKeysPath fills sshd's AuthorizedKeysFile tokens: %u the user
// name, %h the home directory, %% a percent sign.
func expandKeysPath(pattern string, a *account) string {
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		if pattern[i] != '%' || i+1 == len(pattern) {
			b.WriteByte(pattern[i])
			continue
		}
		i++
		switch pattern[i] {
		case 'u':
			b.WriteString(a.Name)
		case 'h':
			b.WriteString(strings.TrimSuffix(a.Home, "/"))
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(pattern[i])
		}
	}
	return b.String()
}

// readKeysFile reads an authorized_keys file as sshd's StrictModes asks:
// a regular file owned by root or the account, writable by no one else.
func readKeysFile(name string, a *account) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Uid != 0 && sys.Uid != a.UID {
		return nil, fmt.Errorf("%s: owned by uid %d, neither root nor %s", name, sys.Uid, a.Name)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("%s: mode %04o: writable by group or others", name, st.Mode().Perm())
	}
	return io.ReadAll(io.LimitReader(f, maxAuthorizedKeys))
}

// matchKey looks for key in authorized_keys data. A line whose options
// we do not know (cert-authority, permitopen, principals, ...) grants
// nothing: we never allow more than a line says. Each such line is
// described in skipped.
func matchKey(data []byte, key ssh.PublicKey, peer net.Addr) (g grant, ok bool, skipped []string) {
	want := key.Marshal()
	rest := data
	for len(rest) > 0 {
		pub, _, opts, next, err := ssh.ParseAuthorizedKey(rest)
		if err != nil {
			break
		}
		rest = next
		if !bytes.Equal(pub.Marshal(), want) {
			continue
		}
		g, err := parseKeyOptions(opts, peer)
		if err != nil {
			skipped = append(skipped, err.Error())
			continue
		}
		return g, true, skipped
	}
	return grant{}, false, skipped
}

// parseKeyOptions reads an authorized_keys line's options.
func parseKeyOptions(opts []string, peer net.Addr) (grant, error) {
	var g grant
	for _, o := range opts {
		name, value, hasValue := strings.Cut(o, "=")
		name = strings.ToLower(name)
		if hasValue {
			value = unquoteOption(value)
		}
		switch name {
		case "command":
			g.command = value
		case "no-pty":
			g.noPTY = true
		case "pty":
			g.noPTY = false
		case "no-port-forwarding":
			g.noForwarding = true
		case "port-forwarding":
			g.noForwarding = false
		case "restrict":
			g.noPTY, g.noForwarding = true, true
		case "no-agent-forwarding", "no-x11-forwarding", "no-user-rc", "agent-forwarding", "x11-forwarding", "user-rc", "environment":
			// Agent and X11 forwarding, rc files and user environments
			// are never offered, whatever the line says.
		case "from":
			if !fromMatches(value, peer) {
				return grant{}, fmt.Errorf("from=%q does not admit %s", value, peer)
			}
		default:
			return grant{}, fmt.Errorf("option %q is not supported; the key is not accepted", name)
		}
	}
	return g, nil
}

func unquoteOption(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	return strings.ReplaceAll(v, `\"`, `"`)
}

// fromMatches reads from="pattern,..." as sshd does for addresses:
// globs (* and ?) or CIDRs, a leading ! negates, a negated match refuses.
func fromMatches(patterns string, peer net.Addr) bool {
	host := peer.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	ip := net.ParseIP(host)
	ok := false
	for _, p := range strings.Split(patterns, ",") {
		p = strings.TrimSpace(p)
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		var m bool
		if _, n, err := net.ParseCIDR(p); err == nil {
			m = ip != nil && n.Contains(ip)
		} else {
			m, _ = path.Match(p, host)
		}
		if m && neg {
			return false
		}
		ok = ok || m
	}
	return ok
}
