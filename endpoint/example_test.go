package endpoint_test

import (
	"fmt"

	"github.com/twistd-go/twistd/endpoint"
)

// Parse reads Twisted's server endpoint strings; String writes the
// canonical form back, so two spellings of one socket compare equal.
func ExampleParse() {
	for _, s := range []string{"tcp:8080:interface=127.0.0.1", "ssl:port=8443:privateKey=key.pem", "unix:/run/app.sock", "tcp:x"} {
		ep, err := endpoint.Parse(s)
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(ep.Kind, ep.Port, ep.String())
	}
	// Output:
	// tcp 8080 tcp:8080:interface=127.0.0.1
	// ssl 8443 ssl:8443:privateKey=key.pem
	// unix 0 unix:/run/app.sock
	// error: endpoint "tcp:x": port "x" is not a number
}
