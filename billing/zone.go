package billing

import (
	"strings"
	"time"
	_ "time/tzdata" // zones are read the same on a machine without a tz database
	"unicode/utf8"

	"github.com/abacus-billing/abacus"
)

// ParseZone reads an IANA time zone name ("Europe/Berlin",
// "Asia/Kathmandu"); "" and "UTC" are UTC. "Local" (and "localtime",
// "posixrules") is refused: it names the server's zone, so the same
// request would mean different periods on different machines; so are the
// copies under posix/ and right/ that only some machines keep.
func ParseZone(name string) (*time.Location, error) {
	if strings.EqualFold(name, "local") || name == "localtime" || name == "posixrules" {
		return nil, abacus.Errorf(abacus.CodeInvalid, "time_zone", "%q is the server's own zone; name an IANA zone such as Europe/Berlin, or UTC", name)
	}
	if strings.HasPrefix(name, "posix/") || strings.HasPrefix(name, "right/") {
		// Only some machines' zone files have them (right/ counts leap
		// seconds): the same request would mean different periods.
		return nil, abacus.Errorf(abacus.CodeInvalid, "time_zone", "%q is a copy some machines keep of a zone; name the zone itself, such as %s", name, strings.SplitN(name, "/", 2)[1])
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		if len(name) > 64 {
			cut := 64
			for cut > 0 && !utf8.RuneStart(name[cut]) { // not inside a character
				cut--
			}
			name = name[:cut] + "…"
		}
		return nil, abacus.Errorf(abacus.CodeInvalid, "time_zone", "%q is not an IANA time zone name such as Europe/Berlin or Asia/Kathmandu", name)
	}
	return loc, nil
}
