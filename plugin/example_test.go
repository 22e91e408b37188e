package plugin_test

import (
	"fmt"
	"net"

	"github.com/spf13/pflag"

	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// chatOptions are a chat entry's own keys.
type chatOptions struct {
	MOTD     string          `yaml:"motd"`
	MaxNick  int             `yaml:"max_nick"`
	Log      plugin.Path     `yaml:"log"`
	Policies plugin.Policies `yaml:"policies"`
}

// chatMaker is Twisted's IServiceMaker for a chat service.
type chatMaker struct{}

func (chatMaker) Name() string        { return "chat" }
func (chatMaker) Description() string { return "line-based chat: nick, broadcast, quit" }

func (chatMaker) New(e *plugin.Entry) (service.Service, error) {
	opts := chatOptions{MaxNick: 16}
	err := e.Decode(&opts)
	if opts.MaxNick < 1 {
		err = plugin.Join(err, e.Errorf(e.Value("max_nick"), "max_nick must be at least 1"))
	}
	if err != nil {
		return nil, err
	}
	pc := opts.Policies.Config()
	return &service.Protocols{
		Stream:   protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &protocol.Base{} }),
		Policies: &pc,
	}, nil
}

// Flags gives `twistd chat --port 7000 --motd hello` the entry a file
// would have.
func (chatMaker) Flags(fs *pflag.FlagSet) func() (map[string]any, error) {
	port := fs.String("port", "7000", "port number or endpoint")
	motd := fs.String("motd", "", "message of the day")
	return func() (map[string]any, error) {
		ep, err := plugin.PortEndpoint("port", *port)
		return map[string]any{"type": "chat", "listen": ep, "motd": *motd}, err
	}
}

// A maker decodes its entry strictly: every mistake comes back at once,
// each at its file:line:col, with the service named.
func ExampleEntry_Decode() {
	doc := []byte(`services:
  - name: lobby
    type: chat
    listen: tcp:7000
    motd: welcome
    max_nik: 8
    policies:
      idle_timeout: soon
`)
	entries, err := plugin.ParseEntries("app.yaml", ".", doc)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = chatMaker{}.New(entries[0])
	fmt.Println(err)
	// Output:
	// app.yaml:6:5: service "lobby": unknown key "max_nik" (did you mean "max_nick"?)
	// app.yaml:8:21: service "lobby": bad duration "soon": want a number and a unit, such as "30s", "500ms" or "1m30s"
}

// Register in the plugin's init; twistd.Main then knows `type: chat` and
// `twistd chat`.
func ExampleRegister() {
	plugin.Register(chatMaker{})
	m, _ := plugin.Lookup("chat")
	fmt.Println(m.Name(), "-", m.Description())
	// Output: chat - line-based chat: nick, broadcast, quit
}
