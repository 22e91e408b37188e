// Command mytwistd is twistd with every built-in plugin plus the examples'.
package main

import (
	"github.com/twistd-go/twistd"

	_ "github.com/twistd-go/twistd/examples/chat"
	_ "github.com/twistd-go/twistd/examples/kv"
	_ "github.com/twistd-go/twistd/examples/relay"
)

func main() { twistd.Main() }
