package twistd_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/twistd-go/twistd"
	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// shout answers each line with the line in capitals, after a greeting.
type shout struct {
	protocol.Base
	greeting string
	lines    protocol.LineReceiver
}

func (s *shout) ConnectionMade(t protocol.Transport) {
	s.Base.ConnectionMade(t)
	t.Write([]byte(s.greeting + "\r\n"))
}

func (s *shout) DataReceived(data []byte) {
	err := s.lines.Feed(data, func(line []byte) error {
		s.Transport.Write(append(bytes.ToUpper(line), "\r\n"...))
		return nil
	})
	if err != nil {
		s.Transport.LoseConnection()
	}
}

// shoutMaker is the plugin: `type: shout` in a file, `twistd shout` on
// the command line.
type shoutMaker struct{}

type shoutOptions struct {
	Greeting string          `yaml:"greeting"`
	Policies plugin.Policies `yaml:"policies"`
}

func (shoutMaker) Name() string        { return "shout" }
func (shoutMaker) Description() string { return "answers every line in capitals" }

func (shoutMaker) New(e *plugin.Entry) (service.Service, error) {
	opts := shoutOptions{Greeting: "hello"}
	if err := e.Decode(&opts); err != nil {
		return nil, err // file:line:col, service and key named
	}
	pc := opts.Policies.Config()
	return &service.Protocols{
		Stream: protocol.FactoryFunc(func(net.Addr) protocol.Protocol {
			return &shout{greeting: opts.Greeting}
		}),
		Policies: &pc,
	}, nil
}

func (shoutMaker) Flags(fs *pflag.FlagSet) func() (map[string]any, error) {
	port := fs.String("port", "tcp:7000", "port number or endpoint to listen on")
	greeting := fs.String("greeting", "hello", "the first line sent")
	return func() (map[string]any, error) {
		ep, err := plugin.PortEndpoint("port", *port)
		return map[string]any{"type": "shout", "listen": ep, "greeting": *greeting}, err
	}
}

// A program of your own: register a plugin in init, then hand main over
// to twistd.Main. This one runs `mytwistd shout` in-process with Run and
// talks to it.
func Example() {
	plugin.Register(shoutMaker{}) // in the plugin's init, in real life
	// func main() { twistd.Main() } is the whole of a custom main.

	// What follows only drives it: `mytwistd -n shout --port
	// unix:DIR/sock --greeting hi`, then a client.
	dir, _ := os.MkdirTemp("", "shout")
	defer os.RemoveAll(dir)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan int)
	go func() {
		done <- twistd.Run(ctx, []string{"-n", "--pidfile=", "--logfile", filepath.Join(dir, "log"),
			"shout", "--port", "unix:" + filepath.Join(dir, "sock"), "--greeting", "hi"})
	}()
	var conn net.Conn
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if conn, err = net.Dial("unix", filepath.Join(dir, "sock")); err == nil {
			break
		}
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	r := bufio.NewReader(conn)
	greeting, _ := r.ReadString('\n')
	fmt.Fprint(conn, "twisted\r\n")
	answer, _ := r.ReadString('\n')
	fmt.Printf("%q %q\n", greeting, answer)
	conn.Close()

	stop() // as SIGTERM: drain and return
	fmt.Println("exit", <-done)
	// Output:
	// "hi\r\n" "TWISTED\r\n"
	// exit 0
}
