package reactor

import "github.com/twistd-go/twistd/internal/service"

// Spec describes one service to the reactor (see internal/service).
type Spec = service.Spec
