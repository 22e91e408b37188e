// Package all links every built-in plugin into the binary.
package all

import (
	// Each plugin registers itself in init.
	_ "github.com/twistd-go/twistd/internal/plugins/conch"
	_ "github.com/twistd-go/twistd/internal/plugins/dns"
	_ "github.com/twistd-go/twistd/internal/plugins/echo"
	_ "github.com/twistd-go/twistd/internal/plugins/exec"
	_ "github.com/twistd-go/twistd/internal/plugins/ftp"
	_ "github.com/twistd-go/twistd/internal/plugins/mail"
	_ "github.com/twistd-go/twistd/internal/plugins/portforward"
	_ "github.com/twistd-go/twistd/internal/plugins/socks"
	_ "github.com/twistd-go/twistd/internal/plugins/tcp"
	_ "github.com/twistd-go/twistd/internal/plugins/web"
)
