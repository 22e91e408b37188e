package web

import (
	"reflect"
	"testing"

	"github.com/spf13/pflag"
)

func TestFlagsMakeTheFileEntry(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want map[string]any
		bad  bool
	}{
		{name: "defaults", args: nil,
			want: map[string]any{"type": "web", "listen": []string{"tcp:8080"}, "path": "."}},
		{name: "port", args: []string{"--port", "9000", "--path", "site"},
			want: map[string]any{"type": "web", "listen": []string{"tcp:9000"}, "path": "site"}},
		{name: "https beside the default port", args: []string{"--https", "8443", "--certificate", "c:1.pem", "--privkey", "k.pem"},
			want: map[string]any{"type": "web", "path": ".",
				"listen": []string{"tcp:8080", `ssl:8443:privateKey=k.pem:certKey=c\:1.pem`}}},
		{name: "everything", args: []string{"--listen", "tcp:1", "--index", "home.html", "--logfile", "-",
			"--add-header", "X-A: b: c", "--mime-type", "text/plain", "--add-mime-type", "wasm=application/wasm",
			"--ignore-ext", ".html", "--no-listing", "--no-compress"},
			want: map[string]any{"type": "web", "listen": []string{"tcp:1"}, "path": ".", "index": []string{"home.html"},
				"access_log": "-", "add_headers": map[string]string{"X-A": "b: c"}, "mime_type": "text/plain",
				"mime_types": map[string]string{".wasm": "application/wasm"}, "ignore_ext": []string{".html"},
				"listing": false, "compress": false}},
		{name: "https without key", args: []string{"--https", "443"}, bad: true},
		{name: "key without https", args: []string{"--privkey", "k.pem"}, bad: true},
		{name: "bad header", args: []string{"--add-header", "nocolon"}, bad: true},
		{name: "bad port", args: []string{"--port", "70000"}, bad: true},
		{name: "port as an endpoint", args: []string{"-p", "tcp:9000:interface=127.0.0.1", "-i", "home.html", "-l", "-", "-m", "text/plain"},
			want: map[string]any{"type": "web", "listen": []string{"tcp:9000:interface=127.0.0.1"}, "path": ".", "index": []string{"home.html"},
				"access_log": "-", "mime_type": "text/plain"}},
		{name: "twistd short flags for TLS", args: []string{"-p", "8080", "--https", "8443", "-c", "c.pem", "-k", "k.pem"},
			want: map[string]any{"type": "web", "path": ".", "listen": []string{"tcp:8080", "ssl:8443:privateKey=k.pem:certKey=c.pem"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("web", pflag.ContinueOnError)
			entry := maker{}.Flags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			got, err := entry()
			if tt.bad {
				if err == nil {
					t.Fatalf("want an error, got %v", got)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, %v\nwant %#v", got, err, tt.want)
			}
		})
	}
}
