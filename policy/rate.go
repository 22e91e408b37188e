package policy

import (
	"fmt"
	"strconv"
	"time"
)

// ReasonMaxConnectionRatePerPeer is the reason a connection over its
// peer's rate is refused.
const ReasonMaxConnectionRatePerPeer = "max_connection_rate_per_peer"

// Rate is a number of events per period: 10/s, 100/m. The zero value is
// no limit.
type Rate struct {
	N   float64
	Per time.Duration
}

// IsZero reports whether r sets no limit.
func (r Rate) IsZero() bool { return r.N == 0 || r.Per == 0 }

// String formats r as the file writes it: "10/s", "3/m", "1/h"; "0" for none.
func (r Rate) String() string {
	if r.IsZero() {
		return "0"
	}
	unit := map[time.Duration]string{time.Second: "s", time.Minute: "m", time.Hour: "h"}[r.Per]
	if unit == "" {
		unit = r.Per.String()
	}
	return strconv.FormatFloat(r.N, 'f', -1, 64) + "/" + unit
}

func (r Rate) validate() error {
	if r.N < 0 || r.Per < 0 {
		return fmt.Errorf("max_connection_rate_per_peer must not be negative")
	}
	return nil
}
