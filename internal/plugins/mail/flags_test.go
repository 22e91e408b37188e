package mail

import (
	"reflect"
	"testing"

	"github.com/spf13/pflag"
)

func TestFlagsMakeTheEntry(t *testing.T) {
	fs := pflag.NewFlagSet("mail", pflag.ContinueOnError)
	entry := maker{}.Flags(fs)
	if err := fs.Parse([]string{"-E", "-H", "localhost", "-d", "localhost=emails", "-d", "example.org=/srv/ex",
		"-u", "alice=se=cret", "-c", "mail.pem", "--auth", "-b"}); err != nil {
		t.Fatal(err)
	}
	got, err := entry()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"type": "mail", "esmtp": true, "hostname": "localhost",
		"domains": map[string]any{"localhost": "emails", "example.org": "/srv/ex"},
		"users":   map[string]any{"alice": "se=cret"},
		"listen":  []string{DefaultSMTP, DefaultPOP3}, "pop3": []string{DefaultPOP3},
		"certificate": "mail.pem", "auth": true, "allow_insecure_auth": false,
		"bounce_to_postmaster": true, "max_message_size": "10MiB"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

func TestFlagsPortsAndNoPOP3(t *testing.T) {
	fs := pflag.NewFlagSet("mail", pflag.ContinueOnError)
	entry := maker{}.Flags(fs)
	if err := fs.Parse([]string{"-d", "localhost=emails", "-s", "2525", "--no-pop3"}); err != nil {
		t.Fatal(err)
	}
	got, err := entry()
	if err != nil {
		t.Fatal(err)
	}
	if l := got["listen"].([]string); len(l) != 1 || l[0] != "tcp:2525" || got["pop3"] != nil {
		t.Fatalf("listen %v pop3 %v", got["listen"], got["pop3"])
	}
}
