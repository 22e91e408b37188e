package plugin

import (
	"testing"

	"github.com/spf13/pflag"

	"github.com/twistd-go/twistd/service"
)

type fake struct{ name string }

func (f fake) Name() string                                      { return f.name }
func (fake) Description() string                                 { return "fake" }
func (fake) New(*Entry) (service.Service, error)                 { return nil, nil }
func (fake) Flags(*pflag.FlagSet) func() (map[string]any, error) { return nil }

func TestRegisterPanicsOnDuplicate(t *testing.T) {
	Register(fake{name: "zz-test"})
	defer func() {
		if recover() == nil {
			t.Fatal("duplicate registration did not panic")
		}
	}()
	Register(fake{name: "zz-test"})
}

func TestAllIsSorted(t *testing.T) {
	Register(fake{name: "zz-b"})
	Register(fake{name: "zz-a"})
	all := All()
	for i := 1; i < len(all); i++ {
		if all[i-1].Name() >= all[i].Name() {
			t.Fatalf("not sorted: %s before %s", all[i-1].Name(), all[i].Name())
		}
	}
	if !Known("zz-a") || Known("zz-nope") {
		t.Fatal("Known is wrong")
	}
}
