package echo

import (
	"reflect"
	"testing"

	"github.com/spf13/pflag"
)

func TestFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    []string
		wantErr bool
	}{
		{name: "default is port 7 over both", want: []string{"tcp:7", "udp:7"}},
		{name: "port binds both", args: []string{"--port", "7000"}, want: []string{"tcp:7000", "udp:7000"}},
		{name: "listen only", args: []string{"--listen", "tcp:1", "--listen", "unix:/x"}, want: []string{"tcp:1", "unix:/x"}},
		{name: "port out of range", args: []string{"-p", "70000"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("echo", pflag.ContinueOnError)
			entry := maker{}.Flags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			got, err := entry()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err == nil && !reflect.DeepEqual(got["listen"], tt.want) {
				t.Fatalf("listen = %v, want %v", got["listen"], tt.want)
			}
		})
	}
}
