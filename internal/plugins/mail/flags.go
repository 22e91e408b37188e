package mail

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/twistd-go/twistd/plugin"
)

// Default one-liner endpoints: twistd's ports (8025 and 8110), on the
// loopback interface rather than every one, so that trying the one-liner
// exposes nothing.
const (
	DefaultSMTP = "tcp:8025:interface=127.0.0.1"
	DefaultPOP3 = "tcp:8110:interface=127.0.0.1"
)

// Flags registers twistd mail's flags: -E/--esmtp, -H/--hostname,
// -d/--maildirdbmdomain DOMAIN=DIR, -s/--smtp, -p/--pop3, -u/--user
// USER=PASS, -c/--certificate, --auth, -b/--bounce-to-postmaster,
// --no-smtp, --no-pop3, and ours: --users-file, --max-message-size,
// --allow-insecure-auth.
func (maker) Flags(fs *pflag.FlagSet) func() (map[string]any, error) {
	fs.BoolP("esmtp", "E", false, "use ESMTP (always on: this server speaks ESMTP)")
	host := fs.StringP("hostname", "H", "", "host name to greet with and stamp Received: with (default: this host's name)")
	doms := fs.StringArrayP("maildirdbmdomain", "d", nil, "DOMAIN=DIR: accept mail for DOMAIN into the Maildirs under DIR (repeatable)")
	smtpEP := fs.StringP("smtp", "s", DefaultSMTP, "port or endpoint to serve SMTP on")
	pop3EP := fs.StringP("pop3", "p", DefaultPOP3, "port or endpoint to serve POP3 on")
	noSMTP := fs.Bool("no-smtp", false, "do not serve SMTP")
	noPOP3 := fs.Bool("no-pop3", false, "do not serve POP3")
	users := fs.StringArrayP("user", "u", nil, "USER=PASS: a mailbox owner who may log in (repeatable)")
	usersFile := fs.String("users-file", "", "htpasswd file of bcrypt hashes (htpasswd -B) of more users")
	cert := fs.StringP("certificate", "c", "", "PEM file with the key and certificate, for STARTTLS and STLS")
	auth := fs.Bool("auth", false, "offer SMTP AUTH PLAIN/LOGIN (under TLS only, unless --allow-insecure-auth)")
	insecure := fs.Bool("allow-insecure-auth", false, "allow logins without TLS even when a certificate is given")
	bounce := fs.BoolP("bounce-to-postmaster", "b", false, "deliver mail for unknown users to postmaster instead of refusing it")
	size := fs.String("max-message-size", "10MiB", "largest message accepted")
	return func() (map[string]any, error) {
		entry := map[string]any{"type": "mail", "esmtp": true}
		if len(*doms) == 0 {
			return nil, fmt.Errorf("give -d DOMAIN=DIR (--maildirdbmdomain) at least once")
		}
		domains := map[string]any{}
		for _, d := range *doms {
			name, dir, ok := strings.Cut(d, "=")
			if !ok || name == "" || dir == "" {
				return nil, fmt.Errorf("--maildirdbmdomain %q: want DOMAIN=DIR", d)
			}
			domains[name] = dir
		}
		entry["domains"] = domains
		if len(*users) > 0 {
			us := map[string]any{}
			for _, u := range *users {
				name, pass, ok := strings.Cut(u, "=")
				if !ok || name == "" {
					return nil, fmt.Errorf("--user %q: want USER=PASS", u)
				}
				us[name] = pass
			}
			entry["users"] = us
		}
		var listen []string
		if !*noSMTP {
			ep, err := plugin.PortEndpoint("smtp", *smtpEP)
			if err != nil {
				return nil, err
			}
			listen = append(listen, ep)
		}
		if !*noPOP3 {
			ep, err := plugin.PortEndpoint("pop3", *pop3EP)
			if err != nil {
				return nil, err
			}
			listen = append(listen, ep)
			entry["pop3"] = []string{ep}
		}
		if len(listen) == 0 {
			return nil, fmt.Errorf("--no-smtp and --no-pop3 together leave nothing to serve")
		}
		entry["listen"] = listen
		if *host != "" {
			entry["hostname"] = *host
		}
		if *usersFile != "" {
			entry["users_file"] = *usersFile
		}
		if *cert != "" {
			entry["certificate"] = *cert
		}
		entry["auth"] = *auth
		entry["allow_insecure_auth"] = *insecure
		entry["bounce_to_postmaster"] = *bounce
		entry["max_message_size"] = *size
		return entry, nil
	}
}

// KeyFlags names the flags behind the entry keys not named like them.
func (maker) KeyFlags() map[string][]string {
	return map[string][]string{
		"domains":              {"maildirdbmdomain"},
		"users":                {"user"},
		"listen":               {"smtp", "pop3"},
		"bounce_to_postmaster": {"bounce-to-postmaster"},
		"allow_insecure_auth":  {"allow-insecure-auth"},
		"max_message_size":     {"max-message-size"},
		"users_file":           {"users-file"},
	}
}

var _ plugin.FlagNamer = maker{}
