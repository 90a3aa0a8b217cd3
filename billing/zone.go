package billing

import (
	"strings"
	"time"
	_ "time/tzdata" // zones are read the same on a machine without a tz database

	"github.com/abacus-billing/abacus"
)

// ParseZone reads an IANA time zone name ("Europe/Berlin",
// "Asia/Kathmandu"); "" and "UTC" are UTC. "Local" is refused: it names the
// server's zone, so the same request would mean different periods on
// different machines.
func ParseZone(name string) (*time.Location, error) {
	if strings.EqualFold(name, "local") {
		return nil, abacus.Errorf(abacus.CodeInvalid, "time_zone", "%q is the server's own zone; name an IANA zone such as Europe/Berlin, or UTC", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		if len(name) > 64 {
			name = name[:64] + "…"
		}
		return nil, abacus.Errorf(abacus.CodeInvalid, "time_zone", "%q is not an IANA time zone name such as Europe/Berlin or Asia/Kathmandu", name)
	}
	return loc, nil
}
