// Command twistd runs network services composed in a YAML application file,
// or one built-in service from flags, as a well-behaved Unix daemon.
package main

import "github.com/twistd-go/twistd"

func main() { twistd.Main() }
