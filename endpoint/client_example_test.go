package endpoint_test

import (
	"fmt"

	"github.com/twistd-go/twistd/endpoint"
)

func ExampleParseClient() {
	for _, s := range []string{
		"tcp:example.com:80:timeout=2.5",
		`tcp:host=\:\:1:port=7000:bindAddress=\:\:1`,
		"ssl:host=db.example.com:port=5433:caCertsDir=/etc/ssl/ours",
		"unix:/run/app.sock",
	} {
		c, err := endpoint.ParseClient(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%-4s %-22s %-5v %s\n", c.Network(), c.Address(), c.ConnectTimeout(), c)
	}
	_, err := endpoint.ParseClient("tcp:host=example.com:port=80:interface=10.0.0.1")
	fmt.Println(err)
	// Output:
	// tcp  example.com:80         2.5s  tcp:host=example.com:port=80:timeout=2.5
	// tcp  [::1]:7000             30s   tcp:host=\:\:1:port=7000:bindAddress=\:\:1
	// tcp  db.example.com:5433    30s   ssl:host=db.example.com:port=5433:caCertsDir=/etc/ssl/ours
	// unix /run/app.sock          30s   unix:path=/run/app.sock
	// client endpoint "tcp:host=example.com:port=80:interface=10.0.0.1": unknown option "interface" for a tcp client (want host, port, timeout, bindAddress)
}
