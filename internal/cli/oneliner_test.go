package cli

import (
	"errors"
	"testing"

	"github.com/spf13/pflag"

	"github.com/twistd-go/twistd/internal/config"
)

func TestFlagErrors(t *testing.T) {
	doc := []byte("name: web\nservices:\n  - access_log: a.log\n    listen:\n      - tcp:1\n    path: www\n    type: web\n")
	file, err := config.Parse(commandLine, t.TempDir(), doc, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc := file.Services[0]
	fs := pflag.NewFlagSet("web", pflag.ContinueOnError)
	fs.String("path", ".", "")
	fs.String("logfile", "", "")
	fs.StringArray("listen", nil, "")
	fs.Int("port", -1, "")
	if err := fs.Parse([]string{"--port", "1"}); err != nil {
		t.Fatal(err)
	}
	keys := map[string][]string{"listen": {"listen", "port"}, "access_log": {"logfile"}}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "a key named like its flag", err: svc.Errorf(svc.Value("path"), `no such directory "www"`), want: `--path: no such directory "www"`},
		{name: "a renamed key", err: svc.Errorf(svc.Value("access_log"), "cannot open"), want: `--logfile: cannot open`},
		{name: "inside a list: the flag given", err: svc.Errorf(svc.Value("listen").Content[0], "bad"), want: `--port: bad`},
		{name: "the entry as a whole", err: svc.Errorf(nil, "listen: at least one endpoint is required"), want: `listen: at least one endpoint is required`},
		{name: "not about the entry", err: errors.New("elsewhere"), want: "elsewhere"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := flagErrors(file, fs, keys, tt.err).Error(); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
