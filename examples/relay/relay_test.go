package relay

import (
	"strings"
	"testing"

	"github.com/twistd-go/twistd/plugin"
)

func TestMakerErrors(t *testing.T) {
	for _, tt := range []struct{ keys, want string }{
		{"", `app.yaml:2:5`}, // upstream is required: the entry's position
		{"    upstream: tcp:nohost\n", `app.yaml:5:15: service "r": upstream:`}, // not a client endpoint
		{"    upstream: tcp:host=h:port=1\n    retry_delay: -1s\n", `app.yaml:6:18`},
	} {
		doc := "services:\n  - name: r\n    type: relay\n    listen: tcp:0\n" + tt.keys
		entries, err := plugin.ParseEntries("app.yaml", t.TempDir(), []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Maker{}.New(entries[0])
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err = %v, want it to contain %q", tt.keys, err, tt.want)
		}
	}
}
